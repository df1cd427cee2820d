/**
 * The SSH part of the demo: a local SSH target (sshd, or the built-in one) for the config's
 * "demo-ssh" connection, its credentials handed to the config as secret references, a log
 * file with secrets in it to show masking, and the ssh commands to try.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config, SshConnectionConfig } from '../config/types.js';
import { startSshTarget, type SshTarget } from './ssh-target.js';

export const DEMO_SSH_CONNECTION = 'demo-ssh';
/** The files the demo's rules let agents read (shell-read-demo-logs). */
export const DEMO_FILES_DIR = '/tmp/portcullis-demo';

/** The demo-ssh connection of a config, when it has one and the SSH front door listens. */
export function demoSshConnection(config: Config): SshConnectionConfig | undefined {
  if (config.ssh === undefined) return undefined;
  return config.connections.find((c): c is SshConnectionConfig => c.name === DEMO_SSH_CONNECTION && c.type === 'ssh');
}

/** Starts the target on the connection's port; returns it and the environment its secret references read. */
export async function startDemoSshTarget(port: number): Promise<{ target: SshTarget; env: Record<string, string> }> {
  const target = await startSshTarget({ port });
  mkdirSync(DEMO_FILES_DIR, { recursive: true });
  writeFileSync(
    path.join(DEMO_FILES_DIR, 'app.log'),
    [
      '2026-11-30T09:12:01Z INFO  order 1042 paid by alice@example.com with card 4111 1111 1111 1111',
      '2026-11-30T09:12:07Z WARN  retrying payment webhook for bob@example.org (attempt 2)',
      '2026-11-30T09:13:44Z DEBUG loaded config aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      '2026-11-30T09:14:02Z INFO  support call from +1 415 555 0132 closed',
      '',
    ].join('\n'),
  );
  return { target, env: { DEMO_SSH_USER: target.user, DEMO_SSH_KEY: target.privateKey, DEMO_SSH_HOST_KEY: target.hostKeyFingerprint } };
}

/**
 * Writes an SSH_ASKPASS helper that fetches a fresh agent token (OpenSSH reads the password
 * from it) and a known_hosts file pinning the gateway's host key; returns the ssh command prefix.
 */
export function sshClientSetup(dataDir: string, bin: string, issuer: string, gateway: { address: string; port: number }, hostKeyLine: string): string {
  const askpass = path.join(dataDir, 'demo-askpass.sh');
  writeFileSync(askpass, `#!/bin/sh\nexec ${bin} token --issuer ${issuer} --client-id agent --client-secret agent-secret\n`);
  chmodSync(askpass, 0o755);
  const knownHosts = path.join(dataDir, 'demo_known_hosts');
  writeFileSync(knownHosts, `[${gateway.address}]:${gateway.port} ${hostKeyLine}\n`);
  return `SSH_ASKPASS=${askpass} SSH_ASKPASS_REQUIRE=force ssh -p ${gateway.port} -o UserKnownHostsFile=${knownHosts} ${DEMO_SSH_CONNECTION}@${gateway.address}`;
}

export function sshDemoLines(ssh: string, target: SshTarget): string {
  return `
SSH: connection "${DEMO_SSH_CONNECTION}" reaches a local ${target.kind === 'openssh' ? 'OpenSSH sshd' : 'built-in SSH target (sshd is not installed)'} on port ${target.port}
as user ${target.user}, with a key only the gateway holds. The agent's token is the password
(the helper below fetches one for OpenSSH). Every program a command line runs is decided:

  ${ssh} 'uptime; df -h /'
  ${ssh} 'cat ${DEMO_FILES_DIR}/app.log'          # emails, the card and the AWS secret come back masked
  ${ssh} 'sh -c "rm -rf ${DEMO_FILES_DIR}"'         # refused, exit status 126, naming rule shell-no-deletes
  ${ssh} 'touch ${DEMO_FILES_DIR}/new'             # held until an approver approves it (see below)
`;
}
