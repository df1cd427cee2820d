/**
 * The gateway's own SSH connection to a target: logs in with the connection's injected key or
 * password, and refuses a target whose host key is not one of the configured fingerprints.
 */
import ssh2 from 'ssh2';
import type { SshTarget } from '../../config/types.js';
import { fingerprintOf } from './host-key.js';

export type SshUpstreamFailure = 'host-key' | 'auth' | 'unreachable';

export class SshUpstreamError extends Error {
  override readonly name = 'SshUpstreamError';
  constructor(
    readonly kind: SshUpstreamFailure,
    message: string,
  ) {
    super(message);
  }
}

/**
 * `agent`, when given, only serves agent forwarding the gateway allowed: the gateway's own
 * login uses the configured credentials alone, never an agent's keys.
 */
export function connectTarget(target: SshTarget, agent?: ssh2.BaseAgent): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let presented: string | undefined;
    let settled = false;
    const fail = (error: SshUpstreamError): void => {
      if (settled) return;
      settled = true;
      client.end();
      reject(error);
    };
    client.once('ready', () => {
      if (settled) return client.end();
      settled = true;
      client.removeAllListeners('error');
      // Later errors (a dropped connection) surface as 'close' on the sessions using it.
      client.on('error', () => undefined);
      resolve(client);
    });
    client.once('error', (err: Error & { level?: string }) => {
      if (presented !== undefined && !target.hostKeys.includes(presented)) {
        return fail(
          new SshUpstreamError(
            'host-key',
            `the target presented host key ${presented}, which is not the configured ${target.hostKeys.join(' or ')}: ` +
              'refusing to connect (a changed key can mean the target was replaced or the connection is intercepted)',
          ),
        );
      }
      if (err.level === 'client-authentication') return fail(new SshUpstreamError('auth', 'the target rejected the gateway\'s credentials'));
      return fail(new SshUpstreamError('unreachable', err.message));
    });
    client.connect({
      host: target.host,
      port: target.port,
      username: target.user,
      ...(target.privateKey === undefined ? {} : { privateKey: target.privateKey }),
      ...(target.passphrase === undefined ? {} : { passphrase: target.passphrase }),
      ...(target.password === undefined ? {} : { password: target.password }),
      ...(agent === undefined ? {} : { agent }),
      authHandler: [...(target.privateKey === undefined ? [] : ['publickey' as const]), ...(target.password === undefined ? [] : ['password' as const])],
      readyTimeout: target.connectTimeoutMs,
      keepaliveInterval: 15_000,
      hostVerifier: (key: Buffer) => {
        presented = fingerprintOf(key);
        return target.hostKeys.includes(presented);
      },
    });
  });
}
