/** Reading a Prometheus text exposition back, strictly: a line that is neither a comment nor a sample fails the test. */

const COMMENT = /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* /;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (\S+)$/;

/** `name{labels}` → value, for every sample line. */
export function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || COMMENT.test(line)) continue;
    const match = SAMPLE.exec(line);
    if (match === null) throw new Error(`not a Prometheus text line: ${JSON.stringify(line)}`);
    samples.set(match[1] as string, Number(match[2]));
  }
  return samples;
}
