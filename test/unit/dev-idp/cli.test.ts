import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { ExitCode, type CliArgs, type CliIo } from '../../../src/cli/command.js';
import { devIdpCommand } from '../../../src/cli/dev-idp.js';
import { tokenCommand } from '../../../src/cli/token.js';
import { startDevIdp, type DevIdp } from '../../../src/identity/dev-idp.js';

interface CapturedIo extends CliIo {
  readonly stdout: () => string;
  readonly stderr: () => string;
}

function captureIo(): CapturedIo {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out: (text) => void out.push(text),
    err: (text) => void err.push(text),
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

function args(values: CliArgs['values'], positionals: string[] = []): CliArgs {
  return { values, positionals };
}

const never = new AbortController().signal;
const SECRET_ENV = 'PORTCULLIS_CLIENT_SECRET';

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

describe('portcullis token', () => {
  let idp: DevIdp;
  const savedSecret = process.env[SECRET_ENV];

  beforeAll(async () => {
    idp = await startDevIdp({ clients: [{ clientId: 'agent', clientSecret: 'agent-secret', groups: ['agents'] }] });
  });
  afterAll(() => idp.close());
  afterEach(() => {
    if (savedSecret === undefined) delete process.env[SECRET_ENV];
    else process.env[SECRET_ENV] = savedSecret;
  });

  it('prints the access token alone on one line', async () => {
    const io = captureIo();
    const code = await tokenCommand.run(
      args({ issuer: idp.issuer, 'client-id': 'agent', 'client-secret': 'agent-secret', scope: 'db:read' }),
      io,
      never,
    );
    expect(code).toBe(ExitCode.ok);
    expect(io.stdout()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const claims = decodeJwt(io.stdout().trim());
    expect(claims.sub).toBe('agent');
    expect(claims['scope']).toBe('db:read');
    expect(io.stderr()).toBe('');
  });

  it(`takes the secret from ${SECRET_ENV}`, async () => {
    process.env[SECRET_ENV] = 'agent-secret';
    const io = captureIo();
    expect(await tokenCommand.run(args({ issuer: idp.issuer, 'client-id': 'agent' }), io, never)).toBe(ExitCode.ok);
    expect(decodeJwt(io.stdout().trim())['client_id']).toBe('agent');
  });

  it('is a usage error when required options are missing', async () => {
    delete process.env[SECRET_ENV];
    const io = captureIo();
    expect(await tokenCommand.run(args({ issuer: idp.issuer }), io, never)).toBe(ExitCode.usage);
    expect(io.stdout()).toBe('');
    expect(io.stderr()).toContain('--client-id');
    expect(io.stderr()).toContain(SECRET_ENV);
  });

  it('is a usage error when the audience cannot be sent', async () => {
    const io = captureIo();
    const values = { issuer: idp.issuer, 'client-id': 'agent', 'client-secret': 'agent-secret', audience: 'portcullis' };
    expect(await tokenCommand.run(args(values), io, never)).toBe(ExitCode.usage);
  });

  it('fails without printing a token or the secret when the issuer refuses', async () => {
    const io = captureIo();
    const values = { issuer: idp.issuer, 'client-id': 'agent', 'client-secret': 'not-the-secret' };
    expect(await tokenCommand.run(args(values), io, never)).toBe(ExitCode.failure);
    expect(io.stdout()).toBe('');
    expect(io.stderr()).toContain('invalid_client');
    expect(io.stderr()).not.toContain('not-the-secret');
  });

  it('reports an unreachable issuer as unavailable', async () => {
    const gone = await startDevIdp({ clients: [{ clientId: 'a', clientSecret: 'b', groups: [] }] });
    await gone.close();
    const io = captureIo();
    const values = { issuer: gone.issuer, 'client-id': 'a', 'client-secret': 'b' };
    expect(await tokenCommand.run(args(values), io, never)).toBe(ExitCode.unavailable);
    expect(io.stderr()).toContain('cannot reach');
  });
});

describe('portcullis dev-idp', () => {
  it('serves tokens to the printed commands until its signal aborts', async () => {
    const io = captureIo();
    const stop = new AbortController();
    const running = devIdpCommand.run(
      args({ port: '0', ttl: '120', client: ['ci-bot:s3cret:agents,readers', 'dba-bot:0ther:dba'] }),
      io,
      stop.signal,
    );
    await waitFor(() => io.stdout().includes('dba-bot'), 'the dev IdP to start');

    const issuer = /issuer: (http:\/\/\S+)/.exec(io.stdout())?.[1];
    expect(issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const commands = io.stdout().split('\n').filter((line) => line.trim().startsWith('portcullis token '));
    expect(commands).toEqual([
      `  portcullis token --issuer ${issuer} --client-id ci-bot --client-secret s3cret`,
      `  portcullis token --issuer ${issuer} --client-id dba-bot --client-secret 0ther`,
    ]);

    // Run the printed command as the token command would parse it.
    const words = commands[0]!.trim().split(' ').slice(2);
    const values: Record<string, string> = {};
    for (let i = 0; i < words.length; i += 2) values[words[i]!.slice(2)] = words[i + 1]!;
    const tokenIo = captureIo();
    expect(await tokenCommand.run(args(values), tokenIo, never)).toBe(ExitCode.ok);
    const claims = decodeJwt(tokenIo.stdout().trim());
    expect(claims['groups']).toEqual(['agents', 'readers']);
    expect(claims.aud).toBe('portcullis');
    expect(claims.exp! - claims.iat!).toBe(120);

    stop.abort();
    expect(await running).toBe(ExitCode.ok);
    expect(await portIsFree(Number(new URL(issuer!).port))).toBe(true);
  });

  it('uses the default agent client when none is given', async () => {
    const io = captureIo();
    const stop = new AbortController();
    const running = devIdpCommand.run(args({ port: '0' }), io, stop.signal);
    await waitFor(() => io.stdout().includes('portcullis token'), 'the dev IdP to start');
    expect(io.stdout()).toContain('--client-id agent --client-secret agent-secret');
    expect(io.stdout()).toContain('groups: agents');
    stop.abort();
    expect(await running).toBe(ExitCode.ok);
  });

  it.each([['agent'], ['agent:'], [':secret'], ['a:b:c:d'], ['a:b:g1,,g2']])('rejects --client %s as a usage error', async (spec) => {
    const io = captureIo();
    expect(await devIdpCommand.run(args({ port: '0', client: [spec] }), io, never)).toBe(ExitCode.usage);
    expect(io.stderr()).toContain('ID:SECRET');
    expect(io.stdout()).toBe('');
  });

  it('rejects a bad port, ttl or duplicate client as usage errors', async () => {
    for (const values of [{ port: 'http' }, { port: '70000' }, { ttl: '0' }, { ttl: '999999' }, { client: ['a:b', 'a:c'] }]) {
      const io = captureIo();
      expect(await devIdpCommand.run(args(values), io, never)).toBe(ExitCode.usage);
    }
  });

  it('documents its options and examples', () => {
    for (const option of ['--port', '--host', '--audience', '--ttl', '--client', 'Examples:']) {
      expect(devIdpCommand.usage).toContain(option);
    }
    for (const option of ['--issuer', '--client-id', '--client-secret', '--audience', '--scope', SECRET_ENV, 'Examples:']) {
      expect(tokenCommand.usage).toContain(option);
    }
  });
});
