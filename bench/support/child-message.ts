/** The next IPC message from a bench's child process (load generators), or why none came. */
import type { ChildProcess } from 'node:child_process';

/** Rejects if `child` exits first or says nothing within `timeoutMs`; `name` names it in the error. */
export function nextMessage<T>(child: ChildProcess, timeoutMs: number, name: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no message from the ${name} process within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: T): void => finish(undefined, m);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      finish(new Error(`the ${name} process exited (${code ?? signal}) before answering`));
    function finish(error: Error | undefined, message?: T): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(message as T);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
