/**
 * The `node` flags the `portcullis` executable runs with. Its shebang line carries them (a
 * unit test keeps the two equal); whoever starts `dist/cli/main.js` with `node` directly —
 * the benchmarks, a container entry point — passes the same.
 *
 * `--max-semi-space-size=4`: V8's default young generation (16 MiB semi-spaces) is fully
 * touched after the first burst of allocation and never given back; a gateway streaming a
 * large result allocates fast but keeps little, so 4 MiB costs no measurable speed
 * (bench:large) and keeps ~25 MB of RSS off every gateway.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
