/**
 * SFTP relayed request by request: the agent speaks to the gateway's SFTP server, the gateway
 * speaks to the target's SFTP server as a client, and every request that names a path is
 * decided (authorize) before it is sent on. Paths are resolved against the target user's
 * home and normalized first (sftp-paths.ts), and the normalized path is what is forwarded,
 * so what was decided is what runs. The agent only ever sees the gateway's own handles.
 *
 * Requests are served concurrently (clients pipeline READs and WRITEs; a request held for
 * review does not hold up others), but requests on one handle reach the target in the order
 * the agent sent them.
 */
import type ssh2 from 'ssh2';
import type { Logger } from '../../log.js';
import type { FileRequest } from '../../policy/operation.js';
import { SftpStatus, STATUS } from './sftp-status.js';
import { decodeHandle, encodeHandle, openAction, parsePathPair, resolveAgentPath, resolveLinkTarget, SftpPathError } from './sftp-paths.js';

export interface SftpBridgeOptions {
  /**
   * Decides one request (paths absolute and normalized): resolves undefined to forward it, or
   * the refusal text (sent to the agent as the status message of a PERMISSION_DENIED status).
   * Never rejects.
   */
  authorize(request: FileRequest, signal: AbortSignal): Promise<string | undefined>;
  readonly log: Logger;
}

/** Files and directories one agent may hold open at once. */
export const MAX_OPEN_HANDLES = 1024;
/** Requests one agent may have waiting for a reply at once (OpenSSH's clients pipeline 64). */
export const MAX_PENDING_REQUESTS = 256;
/** Longest READ relayed at once: a longer one gets a short read, which SFTP clients handle. */
export const MAX_READ_LENGTH = 64 * 1024;
/** How long the target's handles get to close after the agent went away, before its channel is closed anyway. */
const CLOSE_GRACE_MS = 2_000;


/** The target's error as a status for the agent, its code and words kept. */
function targetStatus(err: Error): SftpStatus {
  const code: unknown = (err as { code?: unknown }).code;
  const valid = typeof code === 'number' && Number.isInteger(code) && code > STATUS.OK && code <= STATUS.OP_UNSUPPORTED;
  return new SftpStatus(valid ? code : STATUS.FAILURE, err.message);
}

/** No attribute present: ssh2 writes only the fields that are set. */
const NO_ATTRS = {} as ssh2.Attributes;

/** Only the attributes the agent actually sent (ssh2 parses absent ones as undefined). */
function inputAttributes(attrs: Partial<ssh2.Attributes> | undefined): ssh2.InputAttributes {
  const out: ssh2.InputAttributes = {};
  for (const key of ['mode', 'uid', 'gid', 'size', 'atime', 'mtime'] as const) {
    const value: unknown = attrs?.[key];
    if (typeof value === 'number') out[key] = value;
  }
  return out;
}

/**
 * Sends an SSH exit-status on the agent's SFTP channel before it closes, as ssh2's own
 * Channel.exit() does: ssh2's SFTP server has no exit(), and scp (which uses SFTP) treats a
 * session that ends without an exit status as failed. Reaches into ssh2's channel fields,
 * guarded: without them the channel just closes without a status.
 */
function sendExitStatus(agent: ssh2.SFTPWrapper, status: number): void {
  const channel = agent as unknown as {
    readonly _protocol?: { exitStatus?: (channelId: number, status: number) => void };
    readonly outgoing?: { readonly id?: unknown; readonly state?: unknown };
  };
  const protocol = channel._protocol;
  const outgoing = channel.outgoing;
  if (outgoing?.state !== 'open' || typeof outgoing.id !== 'number' || typeof protocol?.exitStatus !== 'function') return;
  protocol.exitStatus(outgoing.id, status);
}

interface OpenHandle {
  readonly id: number;
  readonly target: Buffer;
  readonly path: string;
  readonly kind: 'file' | 'dir';
  /** Opened after a `write` decision: only then are WRITEs relayed. */
  readonly writable: boolean;
  /** Set while an FSETSTAT on the handle waits for its decision: later requests on the handle wait behind it. */
  barrier: Promise<void> | undefined;
  /** The target's handle is closed (or being closed): nothing more may be sent with it. */
  released: boolean;
}

/** ssh2's readdir also takes options, which its typings leave out. */
type ReaddirWithOptions = (where: Buffer, options: { full: boolean }, done: (err: Error | undefined, list: ssh2.FileEntry[]) => void) => void;

type Done<T> = (err: Error | null | undefined, value: T) => void;

/**
 * Relays one SFTP session between the agent (server side) and the target (client side) until
 * either ends; resolves then. The target may still be on its way: call this as soon as the
 * agent's channel is accepted, since the agent's first requests may already be arriving (they
 * wait for the target; if it never comes, the agent's channel is closed).
 */
export function bridgeSftp(agent: ssh2.SFTPWrapper, target: ssh2.SFTPWrapper | PromiseLike<ssh2.SFTPWrapper>, options: SftpBridgeOptions): Promise<void> {
  return new SftpBridge(agent, target, options).done;
}

class SftpBridge {
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly abort = new AbortController();
  private readonly handles = new Map<number, OpenHandle>();
  private readonly home: Promise<string | undefined>;
  private nextHandle = 0;
  private opening = 0;
  private pending = 0;
  private ended = false;
  private targetGone = false;
  /** The target's SFTP session once it is there (every request that reaches it waits for `home`, which waits for it). */
  private target: ssh2.SFTPWrapper | undefined;
  private readonly log: Logger;

  constructor(
    private readonly agent: ssh2.SFTPWrapper,
    target: ssh2.SFTPWrapper | PromiseLike<ssh2.SFTPWrapper>,
    private readonly options: SftpBridgeOptions,
  ) {
    this.log = options.log.child({ sftp: true });
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.watchAgent();
    this.serveRequests();
    this.home = Promise.resolve(target).then(
      (sftp) => this.attach(sftp),
      (err: unknown) => {
        this.log.warn("could not open SFTP on the target; closing the agent's SFTP channel", { error: err instanceof Error ? err.message : String(err) });
        this.targetGone = true;
        this.end("the target's SFTP session could not be opened");
        return undefined;
      },
    );
  }

  // ------------------------------------------------------------------ lifecycle

  private get upstream(): ssh2.SFTPWrapper {
    if (this.target === undefined) throw new SftpStatus(STATUS.FAILURE, "the target's SFTP session is not open");
    return this.target;
  }

  private watchAgent(): void {
    this.agent.on('error', (err: Error) => this.log.info('agent SFTP channel error', { error: err.message }));
    const agentGone = (): void => this.end('the agent closed its SFTP channel', true);
    this.agent.once('end', agentGone).once('close', agentGone);
  }

  private attach(target: ssh2.SFTPWrapper): Promise<string | undefined> {
    target.on('error', (err: Error) => this.log.info('target SFTP channel error', { error: err.message }));
    if (this.ended) {
      // The agent left while the target's session was being opened.
      try {
        target.end();
      } catch {
        // Already gone.
      }
      return Promise.resolve(undefined);
    }
    this.target = target;
    const targetGone = (): void => {
      this.targetGone = true;
      this.end('the target closed its SFTP channel');
    };
    target.once('end', targetGone).once('close', targetGone);
    return this.findHome();
  }

  /** The target user's home, which relative paths start from: the bridge's own request, not the agent's. */
  private findHome(): Promise<string | undefined> {
    return new Promise((resolve) => {
      try {
        this.upstream.realpath('.', (err, home) => {
          if (err || typeof home !== 'string' || !home.startsWith('/')) {
            this.log.warn('could not find the target user\'s home directory; closing SFTP', { error: err?.message, home });
            this.end('the target did not report a home directory');
            return resolve(undefined);
          }
          resolve(home);
        });
      } catch (err) {
        this.log.warn('could not ask the target for its home directory; closing SFTP', { error: err instanceof Error ? err.message : String(err) });
        this.end('the target SFTP channel is unusable');
        resolve(undefined);
      }
    });
  }

  /**
   * Ends the bridge once: held decisions are released, the target's handles closed (when the
   * target is still there), then both channels.
   */
  private end(reason: string, agentLeft = false): void {
    if (this.ended) return;
    this.ended = true;
    this.log.debug('SFTP bridge ending', { reason, openHandles: this.handles.size });
    this.abort.abort();
    const open = [...this.handles.values()].filter((handle) => !handle.released);
    this.handles.clear();
    try {
      // As sshd does when its SFTP server exits: 0 when the agent ended the session.
      sendExitStatus(this.agent, agentLeft ? 0 : 1);
      this.agent.end();
    } catch {
      // Already gone.
    }
    if (this.targetGone || open.length === 0) return this.finish();
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      this.finish();
    };
    timer = setTimeout(finish, CLOSE_GRACE_MS);
    void Promise.all(open.map((handle) => this.releaseQuietly(handle))).then(finish);
  }

  private finish(): void {
    try {
      this.target?.end();
    } catch {
      // Already gone.
    }
    this.resolveDone();
  }

  /** Closes a target handle nobody will answer for; resolves either way. */
  private releaseQuietly(handle: { target: Buffer; released?: boolean }): Promise<void> {
    handle.released = true;
    return new Promise((resolve) => {
      try {
        this.upstream.close(handle.target, () => resolve());
      } catch {
        resolve();
      }
    });
  }

  // ------------------------------------------------------------------ dispatch

  private serveRequests(): void {
    const a = this.agent;
    a.on('OPEN', (id: number, path: string, flags: number, attrs: ssh2.Attributes) => this.serve(id, 'OPEN', () => this.open(id, path, flags, attrs)));
    a.on('READ', (id: number, handle: Buffer, offset: number, length: number) => this.serve(id, 'READ', () => this.read(id, handle, offset, length)));
    a.on('WRITE', (id: number, handle: Buffer, offset: number, data: Buffer) => this.serve(id, 'WRITE', () => this.write(id, handle, offset, data)));
    a.on('FSTAT', (id: number, handle: Buffer) => this.serve(id, 'FSTAT', () => this.fstat(id, handle)));
    a.on('FSETSTAT', (id: number, handle: Buffer, attrs: ssh2.Attributes) => this.serve(id, 'FSETSTAT', () => this.fsetstat(id, handle, attrs)));
    a.on('CLOSE', (id: number, handle: Buffer) => this.serve(id, 'CLOSE', () => this.close(id, handle)));
    a.on('OPENDIR', (id: number, path: string) => this.serve(id, 'OPENDIR', () => this.opendir(id, path)));
    a.on('READDIR', (id: number, handle: Buffer) => this.serve(id, 'READDIR', () => this.readdir(id, handle)));
    a.on('LSTAT', (id: number, path: string) => this.serve(id, 'LSTAT', () => this.stat(id, path, 'lstat')));
    a.on('STAT', (id: number, path: string) => this.serve(id, 'STAT', () => this.stat(id, path, 'stat')));
    a.on('REMOVE', (id: number, path: string) => this.serve(id, 'REMOVE', () => this.remove(id, path)));
    a.on('RMDIR', (id: number, path: string) => this.serve(id, 'RMDIR', () => this.rmdir(id, path)));
    a.on('REALPATH', (id: number, path: string) => this.serve(id, 'REALPATH', () => this.realpath(id, path)));
    a.on('READLINK', (id: number, path: string) => this.serve(id, 'READLINK', () => this.readlink(id, path)));
    a.on('SETSTAT', (id: number, path: string, attrs: ssh2.Attributes) => this.serve(id, 'SETSTAT', () => this.setstat(id, path, attrs)));
    a.on('MKDIR', (id: number, path: string, attrs: ssh2.Attributes) => this.serve(id, 'MKDIR', () => this.mkdir(id, path, attrs)));
    a.on('RENAME', (id: number, from: string, to: string) => this.serve(id, 'RENAME', () => this.rename(id, from, to, 'rename')));
    // ssh2 hands over (link, target) whichever order the client wrote them in (OpenSSH swaps them on the wire).
    a.on('SYMLINK', (id: number, linkPath: string, targetPath: string) => this.serve(id, 'SYMLINK', () => this.symlink(id, linkPath, targetPath)));
    a.on('EXTENDED', (id: number, name: string, data: Buffer | undefined) => this.serve(id, 'EXTENDED', () => this.extended(id, name, data)));
  }

  /**
   * Runs one request. `work` sends to the target before its first await unless it must wait
   * (for the home directory, a decision, or an earlier request on the same handle), which is
   * what keeps one handle's requests in order.
   */
  private serve(id: number, what: string, work: () => Promise<void>): void {
    if (this.ended) return;
    if (this.pending >= MAX_PENDING_REQUESTS) {
      return this.reply(() => this.agent.status(id, STATUS.FAILURE, `too many requests waiting for replies (at most ${MAX_PENDING_REQUESTS}); wait for replies before sending more`));
    }
    this.pending++;
    let running: Promise<void>;
    try {
      running = work();
    } catch (err) {
      running = Promise.reject(err);
    }
    running
      .catch((err: unknown) => this.failed(id, what, err))
      .finally(() => this.pending--);
  }

  private failed(id: number, what: string, err: unknown): void {
    if (err instanceof SftpStatus) return this.reply(() => this.agent.status(id, err.code, err.message));
    this.log.warn('SFTP request failed in the gateway', { request: what, error: err instanceof Error ? err.message : String(err) });
    this.reply(() => this.agent.status(id, STATUS.FAILURE, 'the gateway could not relay this request'));
  }

  /** Sends one reply to the agent, unless the session is over (nobody would read it). */
  private reply(send: () => void): void {
    if (this.ended) return;
    try {
      send();
    } catch (err) {
      this.log.warn('could not reply to the agent', { error: err instanceof Error ? err.message : String(err) });
    }
  }

  private ok(id: number): void {
    this.reply(() => this.agent.status(id, STATUS.OK));
  }

  // ------------------------------------------------------------------ decisions, paths, handles

  private async resolve(requested: string): Promise<string> {
    const home = await this.home;
    if (home === undefined) throw new SftpStatus(STATUS.FAILURE, 'the SFTP session is closing');
    try {
      return resolveAgentPath(home, requested);
    } catch (err) {
      if (err instanceof SftpPathError) throw new SftpStatus(STATUS.FAILURE, `invalid path: ${err.message}`);
      throw err;
    }
  }

  /** Throws the refusal as a PERMISSION_DENIED status; returns when the request may be sent. */
  private async authorized(request: FileRequest): Promise<void> {
    let refusal: string | undefined;
    try {
      refusal = await this.options.authorize(request, this.abort.signal);
    } catch (err) {
      // authorize never rejects by contract; if it does, the request is not decided: refuse it.
      this.log.error('SFTP authorization failed; refusing the request', { error: err instanceof Error ? err.message : String(err) });
      refusal = 'the gateway could not decide this request';
    }
    if (refusal !== undefined) throw new SftpStatus(STATUS.PERMISSION_DENIED, refusal);
    if (this.ended) throw new SftpStatus(STATUS.FAILURE, 'the SFTP session is closing');
  }

  /** Sends one request to the target now and resolves with its reply (its error as the agent's status). */
  private ask<T>(send: (done: Done<T>) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      send((err, value) => (err ? reject(targetStatus(err)) : resolve(value)));
    });
  }

  private handleOf(raw: Buffer, kind?: 'file' | 'dir'): OpenHandle {
    const id = decodeHandle(raw);
    const handle = id === undefined ? undefined : this.handles.get(id);
    if (handle === undefined) throw new SftpStatus(STATUS.FAILURE, 'unknown handle');
    if (kind !== undefined && handle.kind !== kind) throw new SftpStatus(STATUS.FAILURE, kind === 'file' ? 'the handle is a directory\'s' : 'the handle is not a directory\'s');
    return handle;
  }

  /**
   * Waits for the barrier the handle had when the request arrived (it covers every earlier
   * FSETSTAT still waiting for its decision; later ones must not overtake this request).
   */
  private async inTurn(handle: OpenHandle, barrier: Promise<void>): Promise<void> {
    await barrier;
    if (handle.released) throw new SftpStatus(STATUS.FAILURE, 'the handle is closed');
  }

  private reserveHandle(): void {
    if (this.handles.size + this.opening >= MAX_OPEN_HANDLES) {
      throw new SftpStatus(STATUS.FAILURE, `too many open handles (at most ${MAX_OPEN_HANDLES}); close some first`);
    }
    this.opening++;
  }

  /** Gives the agent a handle of the gateway's own for a target handle just opened. */
  private adopt(id: number, target: Buffer, path: string, kind: 'file' | 'dir', writable: boolean): void {
    if (this.ended) {
      void this.releaseQuietly({ target });
      return;
    }
    let handleId = this.nextHandle;
    while (this.handles.has(handleId)) handleId = (handleId + 1) >>> 0;
    this.nextHandle = (handleId + 1) >>> 0;
    this.handles.set(handleId, { id: handleId, target, path, kind, writable, barrier: undefined, released: false });
    this.reply(() => this.agent.handle(id, encodeHandle(handleId)));
  }

  // ------------------------------------------------------------------ files

  private async open(id: number, requested: string, flags: number, attrs: ssh2.Attributes): Promise<void> {
    this.reserveHandle();
    try {
      const path = await this.resolve(requested);
      const action = openAction(flags);
      await this.authorized({ action, path });
      const handle = await this.ask<Buffer>((done) => this.upstream.open(path, flags, inputAttributes(attrs), done));
      this.adopt(id, handle, path, 'file', action === 'write');
    } finally {
      this.opening--;
    }
  }

  private async read(id: number, raw: Buffer, offset: number, length: number): Promise<void> {
    const handle = this.handleOf(raw, 'file');
    if (handle.barrier !== undefined) await this.inTurn(handle, handle.barrier);
    const wanted = Math.min(length, MAX_READ_LENGTH);
    if (wanted === 0) return this.reply(() => this.agent.data(id, Buffer.alloc(0)));
    const buffer = Buffer.allocUnsafe(wanted);
    const bytes = await this.ask<number>((done) => this.upstream.read(handle.target, buffer, 0, wanted, offset, (err, n) => done(err, n)));
    // ssh2 reports the target's EOF status as a read of no bytes.
    if (bytes === 0) return this.reply(() => this.agent.status(id, STATUS.EOF));
    this.reply(() => this.agent.data(id, buffer.subarray(0, bytes)));
  }

  private async write(id: number, raw: Buffer, offset: number, data: Buffer): Promise<void> {
    const handle = this.handleOf(raw, 'file');
    if (!handle.writable) {
      throw new SftpStatus(
        STATUS.PERMISSION_DENIED,
        `write refused: ${handle.path} was opened for reading only; open it for writing to write to it (that is decided as a write)`,
      );
    }
    if (handle.barrier !== undefined) await this.inTurn(handle, handle.barrier);
    await this.ask<undefined>((done) => this.upstream.write(handle.target, data, 0, data.length, offset, (err) => done(err, undefined)));
    this.ok(id);
  }

  private async fstat(id: number, raw: Buffer): Promise<void> {
    const handle = this.handleOf(raw);
    if (handle.barrier !== undefined) await this.inTurn(handle, handle.barrier);
    const stats = await this.ask<ssh2.Stats>((done) => this.upstream.fstat(handle.target, done));
    this.reply(() => this.agent.attrs(id, stats));
  }

  /** Changing a file's attributes is decided (as `setstat` of the file's path), so later requests on the handle wait for it. */
  private async fsetstat(id: number, raw: Buffer, attrs: ssh2.Attributes): Promise<void> {
    const handle = this.handleOf(raw);
    const prior = handle.barrier;
    let release!: () => void;
    const barrier = new Promise<void>((resolve) => (release = resolve));
    handle.barrier = barrier;
    let answered: Promise<undefined>;
    try {
      if (prior !== undefined) await prior;
      await this.authorized({ action: 'setstat', path: handle.path });
      if (handle.released) throw new SftpStatus(STATUS.FAILURE, 'the handle is closed');
      answered = this.ask<undefined>((done) => this.upstream.fsetstat(handle.target, inputAttributes(attrs), (err) => done(err, undefined)));
    } finally {
      if (handle.barrier === barrier) handle.barrier = undefined;
      release();
    }
    await answered;
    this.ok(id);
  }

  private async close(id: number, raw: Buffer): Promise<void> {
    const handle = this.handleOf(raw);
    // No request after the CLOSE may use the handle; those before it go first.
    this.handles.delete(handle.id);
    if (handle.barrier !== undefined) await this.inTurn(handle, handle.barrier);
    if (handle.released) throw new SftpStatus(STATUS.FAILURE, 'the handle is closed');
    handle.released = true;
    await this.ask<undefined>((done) => this.upstream.close(handle.target, (err) => done(err, undefined)));
    this.ok(id);
  }

  // ------------------------------------------------------------------ directories

  private async opendir(id: number, requested: string): Promise<void> {
    this.reserveHandle();
    try {
      const path = await this.resolve(requested);
      await this.authorized({ action: 'list', path });
      const handle = await this.ask<Buffer>((done) => this.upstream.opendir(path, done));
      this.adopt(id, handle, path, 'dir', false);
    } finally {
      this.opening--;
    }
  }

  private async readdir(id: number, raw: Buffer): Promise<void> {
    const handle = this.handleOf(raw, 'dir');
    if (handle.barrier !== undefined) await this.inTurn(handle, handle.barrier);
    // `full`: ssh2 would otherwise drop "." and "..", which the agent's client may expect.
    const upstream = this.upstream;
    const readdir = upstream.readdir.bind(upstream) as unknown as ReaddirWithOptions;
    const entries = await this.ask<ssh2.FileEntry[]>((done) => readdir(handle.target, { full: true }, done));
    this.reply(() => this.agent.name(id, entries));
  }

  // ------------------------------------------------------------------ paths

  private async stat(id: number, requested: string, how: 'stat' | 'lstat'): Promise<void> {
    const path = await this.resolve(requested);
    await this.authorized({ action: 'stat', path });
    const stats = await this.ask<ssh2.Stats>((done) => (how === 'stat' ? this.upstream.stat(path, done) : this.upstream.lstat(path, done)));
    this.reply(() => this.agent.attrs(id, stats));
  }

  private async realpath(id: number, requested: string): Promise<void> {
    const path = await this.resolve(requested);
    await this.authorized({ action: 'stat', path });
    const real = await this.ask<string>((done) => this.upstream.realpath(path, done));
    this.reply(() => this.agent.name(id, [{ filename: real, longname: real, attrs: NO_ATTRS }]));
  }

  private async readlink(id: number, requested: string): Promise<void> {
    const path = await this.resolve(requested);
    await this.authorized({ action: 'stat', path });
    const link = await this.ask<string>((done) => this.upstream.readlink(path, done));
    this.reply(() => this.agent.name(id, [{ filename: link, longname: link, attrs: NO_ATTRS }]));
  }

  private async remove(id: number, requested: string): Promise<void> {
    const path = await this.resolve(requested);
    await this.authorized({ action: 'remove', path });
    await this.ask<undefined>((done) => this.upstream.unlink(path, (err) => done(err, undefined)));
    this.ok(id);
  }

  private async rmdir(id: number, requested: string): Promise<void> {
    const path = await this.resolve(requested);
    await this.authorized({ action: 'rmdir', path });
    await this.ask<undefined>((done) => this.upstream.rmdir(path, (err) => done(err, undefined)));
    this.ok(id);
  }

  private async mkdir(id: number, requested: string, attrs: ssh2.Attributes): Promise<void> {
    const path = await this.resolve(requested);
    await this.authorized({ action: 'mkdir', path });
    await this.ask<undefined>((done) => this.upstream.mkdir(path, inputAttributes(attrs), (err) => done(err, undefined)));
    this.ok(id);
  }

  private async setstat(id: number, requested: string, attrs: ssh2.Attributes): Promise<void> {
    const path = await this.resolve(requested);
    await this.authorized({ action: 'setstat', path });
    await this.ask<undefined>((done) => this.upstream.setstat(path, inputAttributes(attrs), (err) => done(err, undefined)));
    this.ok(id);
  }

  private async rename(id: number, fromRequested: string, toRequested: string, how: 'rename' | 'posix-rename'): Promise<void> {
    const path = await this.resolve(fromRequested);
    const target = await this.resolve(toRequested);
    await this.authorized({ action: 'rename', path, target });
    await this.ask<undefined>((done) => {
      if (how === 'rename') return this.upstream.rename(path, target, (err) => done(err, undefined));
      try {
        this.upstream.ext_openssh_rename(path, target, (err) => done(err, undefined));
      } catch {
        // ssh2 throws when the target did not offer the extension.
        throw new SftpStatus(STATUS.OP_UNSUPPORTED, 'the target does not support posix-rename@openssh.com');
      }
    });
    this.ok(id);
  }

  private async symlink(id: number, linkRequested: string, targetRequested: string): Promise<void> {
    const path = await this.resolve(linkRequested);
    if (targetRequested.includes('\0')) throw new SftpStatus(STATUS.FAILURE, 'invalid path: the link target contains a NUL byte');
    const target = resolveLinkTarget(path, targetRequested);
    await this.authorized({ action: 'symlink', path, target });
    // The link is created pointing at the absolute path that was decided, not the relative text sent.
    await this.ask<undefined>((done) => this.upstream.symlink(target, path, (err) => done(err, undefined)));
    this.ok(id);
  }

  private async extended(id: number, name: string, data: Buffer | undefined): Promise<void> {
    if (name !== 'posix-rename@openssh.com') throw new SftpStatus(STATUS.OP_UNSUPPORTED, `${name} is not supported through this gateway`);
    const paths = parsePathPair(data);
    if (paths === undefined) throw new SftpStatus(STATUS.BAD_MESSAGE, 'malformed posix-rename@openssh.com request');
    await this.rename(id, paths.from, paths.to, 'posix-rename');
  }
}
