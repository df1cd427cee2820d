/** `portcullis ssh host-key`: the SSH front door's host key fingerprint, for agents' known_hosts. */
import { ConfigError, formatIssue } from '../config/issues.js';
import { loadConfig } from '../config/load.js';
import { HostKeyError, loadHostKey } from '../protocols/ssh/host-key.js';
import { ExitCode, type CliCommand } from './command.js';
import { CONFIG_ENV, usageError } from './data-dir.js';

export const sshHostKeyCommand: CliCommand = {
  name: 'ssh host-key',
  summary: 'Print the SSH front door\'s host key fingerprint (creating the key if it does not exist yet)',
  usage: `Usage: portcullis ssh host-key [--config FILE] [--known-hosts HOST]

Prints the SHA-256 fingerprint of the host key the SSH front door presents, as
"ssh-keygen -lf" prints it, so agents can pin it. The key is listen.ssh.host_key_file,
or <data_dir>/ssh_host_ed25519_key, which is generated here if it does not exist yet
(the gateway then uses the same key when it starts).

Options:
  -c, --config FILE        configuration file (default: $${CONFIG_ENV}); secrets need not be available
      --known-hosts HOST   print a known_hosts line for HOST (e.g. "[gateway]:2222") instead
  -h, --help               show this help

Exit status: 0 printed; 1 the key cannot be read or made; 2 bad usage or invalid config.

Example:
  portcullis ssh host-key -c examples/portcullis.yaml
  portcullis ssh host-key -c examples/portcullis.yaml --known-hosts '[127.0.0.1]:2222' >> ~/.ssh/known_hosts`,
  options: {
    config: { type: 'string', short: 'c' },
    'known-hosts': { type: 'string' },
  },
  async run(args, io) {
    const file = (args.values['config'] as string | undefined) ?? (process.env[CONFIG_ENV] || undefined);
    if (file === undefined) return usageError(io, 'ssh host-key', `no configuration: give --config FILE or set ${CONFIG_ENV}`);
    let dataDir: string;
    let hostKeyFile: string | undefined;
    try {
      const config = await loadConfig(file, { unavailableSecrets: 'placeholder' });
      dataDir = config.dataDir;
      hostKeyFile = config.ssh?.hostKeyFile;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      io.err(`${error.issues.map((issue) => formatIssue(error.file, issue)).join('\n')}\n`);
      return ExitCode.usage;
    }
    try {
      const key = loadHostKey(dataDir, hostKeyFile);
      const host = args.values['known-hosts'] as string | undefined;
      if (host !== undefined) io.out(`${host} ${key.publicKey}`);
      else io.out(`${key.fingerprint} ${key.file}${key.generated ? ' (generated now)' : ''}`);
      return ExitCode.ok;
    } catch (error) {
      if (!(error instanceof HostKeyError)) throw error;
      io.err(`portcullis ssh host-key: ${error.message}`);
      return ExitCode.failure;
    }
  },
};
