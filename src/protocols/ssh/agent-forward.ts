/**
 * SSH agent forwarding through the gateway, where a rule allows it: the target's requests to
 * "the agent" are carried over a channel the gateway opens back to the agent's client
 * (`auth-agent@openssh.com`), so the agent's keys stay with the agent. ssh2's server has no
 * public call to open that channel type: it is opened through ssh2's internal channel manager
 * and protocol writer, guarded — if those are missing the forward fails (refused), never worse.
 */
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';

/** ssh2 server's own window and packet size for the channels it opens. */
const WINDOW = 2 * 1024 * 1024;
const PACKET_SIZE = 32 * 1024;

interface ServerInternals {
  _chanMgr?: { add(wrapper: unknown): number };
  _protocol?: { openssh_authAgent?(channel: number, window: number, packetSize: number): void };
}

/** An ssh2 agent whose only use is forwarding: it never authenticates anything itself. */
export class ForwardedAgent extends ssh2.BaseAgent {
  constructor(private readonly agentClient: ssh2.Connection) {
    super();
  }

  getIdentities(cb: (err: Error | undefined, keys?: never[]) => void): void {
    cb(new Error('the forwarded agent is not used for the gateway\'s own authentication'));
  }

  sign(_key: unknown, _data: Buffer, optionsOrCb: unknown, cb?: (err: Error | undefined) => void): void {
    const callback = typeof optionsOrCb === 'function' ? (optionsOrCb as (err: Error | undefined) => void) : cb;
    callback?.(new Error('the forwarded agent is not used for the gateway\'s own authentication'));
  }

  override getStream(cb: (err: Error | undefined, stream?: Duplex) => void): void {
    const internals = this.agentClient as unknown as ServerInternals;
    const open = internals._protocol?.openssh_authAgent;
    if (internals._chanMgr === undefined || open === undefined) return cb(new Error('this ssh2 version cannot open agent channels'));
    const wrapper = Object.assign((err: Error | undefined, stream: Duplex) => cb(err, stream), { type: 'auth-agent@openssh.com' });
    const channel = internals._chanMgr.add(wrapper);
    if (channel === -1) return cb(new Error('no free channel to the agent'));
    open.call(internals._protocol, channel, WINDOW, PACKET_SIZE);
  }
}
