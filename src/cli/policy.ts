/**
 * `portcullis policy check` decides one SQL text offline, exactly as the live gateway
 * would: the same config loader, the same SQL inspector and the same gate. It contacts
 * nothing, so it needs no secrets (unavailable ones become placeholders).
 */
import { ConfigError, formatIssue } from '../config/issues.js';
import { loadConfig } from '../config/load.js';
import type { Config, DangerousFunctionConfig, PostgresConnectionConfig } from '../config/types.js';
import { Catalog } from '../masking/catalog.js';
import { planStatements } from '../masking/lineage.js';
import type { MaskRefusal, StatementMaskPlan } from '../masking/plan.js';
import { MaskingPolicies } from '../masking/policy.js';
import { withMaskingRefusal } from '../masking/refusal.js';
import type { Identity } from '../identity/identity.js';
import type { SqlInspector } from '../inspect/sql-inspector.js';
export type { SqlInspector };
import { createGate } from '../policy/gate.js';
import type { Decision, Effect } from '../policy/operation.js';
import { ExitCode, type CliArgs, type CliCommand, type CliIo } from './command.js';

const CONFIG_ENV = 'PORTCULLIS_CONFIG';

/** Exit status by effect. 2 (usage) covers bad command lines and invalid configs. */
export const POLICY_EXIT: Readonly<Record<Effect, ExitCode>> = { allow: 0, deny: 1, review: 3 };

export interface PolicyCheckDeps {
  /**
   * Loads the inspector, extended with the config's dangerous functions. Default: the
   * live gateway's (libpg-query WASM).
   */
  readonly loadInspector?: (extraDangerousFunctions: readonly DangerousFunctionConfig[]) => Promise<SqlInspector>;
}

/**
 * Imported on first use, not at startup: the parser is WASM that only this command needs,
 * and every other command loads faster without it.
 */
async function loadRealInspector(extraDangerousFunctions: readonly DangerousFunctionConfig[]): Promise<SqlInspector> {
  const { createSqlInspector } = await import('../inspect/sql-inspector.js');
  return createSqlInspector(extraDangerousFunctions);
}

const USAGE = `Usage: portcullis policy check --connection NAME --subject SUB [--group GROUP]...
                               [--client ID] --sql SQL [--target-catalog] [--config FILE]

Decides SQL exactly as the gateway would for that caller on that connection — the
same config, the same SQL inspector (PostgreSQL's own parser) and the same policy
gate — and prints the decision as JSON on stdout:

  {
    "effect": "deny",                  allow | deny | review
    "rule": "no-writes",               the rule that decided, or a built-in one
                                       (default, access, unparseable-sql,
                                       unknown-statement, dynamic-sql,
                                       parse-relevant-setting, empty-query)
    "reason": "Refused \\"DELETE …\\" by rule \\"no-writes\\": …",
                                       what the agent would be told
    "statementIndex": 0,               which statement decided (0-based; absent when
                                       the SQL did not parse or has no statement)
    "facts": { "ok": true, "statements": [ … ] }
                                       what the inspector found: per statement its
                                       kind, class, tables, functions and flags
    "masking": {                       present when masking profiles apply to the caller
      "profiles": ["pii"],
      "catalog": "none",               "target" with --target-catalog
      "statements": [ { "columns": [   per output column, by position:
          { "position": 1, "masked": true, "strategy": "redact",
            "derived": true,           computed from the masked column (masked whole)
            "source": "public.customers.email", "rule": "masking profile …" } ] } ]
    }
  }

Masks are worked out from the SQL (aliases, subqueries, CTEs, expressions). Without
the target's catalog, "*" cannot be expanded and views cannot be seen through; the
gateway itself always has the catalog. --target-catalog reads it from the target with
the connection's credentials (secrets must then be available).

Several statements separated by ";" are decided together, like one simple query:
the most restrictive statement decides. Nothing is contacted and secrets need not
be available: a "\${env:…}" or "\${file:…}" reference that cannot be resolved, and
unreadable TLS certificate files, stand in as placeholders. The caller's identity
is taken from the options instead of a token.

Options:
  -c, --config FILE       configuration file (default: $${CONFIG_ENV})
      --connection NAME   connection whose rules decide (required)
      --subject SUB       the caller's "sub" claim (required)
      --group GROUP       a group the caller is in; repeat for several
      --client ID         the client id the caller's token was issued to
      --sql SQL           the SQL text: one statement or several (required);
                          write --sql="-- …" when it starts with "-"
      --target-catalog    read the target's catalog to work out masks (contacts
                          the target; needs the connection's secrets)
  -h, --help              show this help

Exit status: 0 allowed; 1 denied; 3 needs review (approval); 2 bad command line,
invalid config or unknown connection.

Examples:
  portcullis policy check -c examples/portcullis.yaml --connection demo \\
      --subject agent-1 --group agents --sql "SELECT * FROM orders"
  portcullis policy check -c examples/portcullis.yaml --connection demo \\
      --subject agent-1 --group agents --sql "SELECT 1; DELETE FROM orders" | jq -r .reason
  # in CI: fail the build if an agent could drop a table
  ! portcullis policy check -c prod.yaml --connection app --subject bot \\
      --group agents --sql "DROP TABLE customers" > /dev/null
`;

export function createPolicyCheckCommand(deps: PolicyCheckDeps = {}): CliCommand {
  return {
    name: 'policy check',
    summary: 'Decide SQL offline exactly as the gateway would, print the decision as JSON',
    usage: USAGE,
    options: {
      config: { type: 'string', short: 'c' },
      connection: { type: 'string' },
      subject: { type: 'string' },
      group: { type: 'string', multiple: true },
      client: { type: 'string' },
      sql: { type: 'string' },
      'target-catalog': { type: 'boolean' },
    },
    async run(args: CliArgs, io: CliIo): Promise<ExitCode> {
      const text = (name: string): string | undefined => {
        const value = args.values[name];
        return typeof value === 'string' ? value : undefined;
      };
      if (args.positionals.length > 0) return usageError(io, `unexpected argument "${args.positionals[0]}"`);
      const file = text('config') ?? (process.env[CONFIG_ENV] || undefined);
      if (file === undefined) return usageError(io, `no config file: give --config FILE or set ${CONFIG_ENV}`);
      const connectionName = text('connection');
      const subject = text('subject');
      const sql = text('sql');
      const missing = [
        connectionName === undefined ? '--connection' : undefined,
        subject === undefined || subject === '' ? '--subject' : undefined,
        sql === undefined ? '--sql' : undefined,
      ].filter((option) => option !== undefined);
      if (missing.length > 0) return usageError(io, `missing ${missing.join(', ')}`);

      const targetCatalog = args.values['target-catalog'] === true;
      let config: Config;
      try {
        config = await loadConfig(file, { unavailableSecrets: targetCatalog ? 'error' : 'placeholder' });
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        const count = error.issues.length;
        io.err(`${error.issues.map((issue) => formatIssue(error.file, issue)).join('\n')}\n${file}: ${count} problem${count === 1 ? '' : 's'}\n`);
        return ExitCode.usage;
      }
      const connection = config.connections.find((c) => c.name === connectionName);
      if (connection === undefined) {
        const known = config.connections.map((c) => c.name);
        return usageError(io, `no connection "${connectionName}" in ${file}${known.length === 0 ? ' (it defines none)' : `; connections: ${known.join(', ')}`}`);
      }
      if (connection.type !== 'postgres') {
        return usageError(io, `connection "${connectionName}" is an ${connection.type.toUpperCase()} connection: policy check decides SQL on PostgreSQL connections`);
      }

      const groupValues = args.values['group'];
      const identity: Identity = {
        subject: subject as string,
        clientId: text('client'),
        groups: Array.isArray(groupValues) ? groupValues.filter((g): g is string => typeof g === 'string') : [],
        scopes: [],
        issuer: 'portcullis policy check',
        expiresAt: Number.MAX_SAFE_INTEGER,
      };
      const inspect = await (deps.loadInspector ?? loadRealInspector)(config.sql.extraDangerousFunctions);
      const facts = inspect(sql as string);
      const gate = createGate(config.connections);
      const gated: Decision = gate(identity, {
        kind: 'sql',
        connection: { name: connection.name, type: connection.type },
        text: sql as string,
        via: 'policy-check',
        facts,
      });
      const policy = new MaskingPolicies().forIdentity(connection, identity);
      let masking: MaskingReport | undefined;
      let decision = gated;
      if (policy !== undefined) {
        let catalog: Catalog;
        try {
          catalog = targetCatalog ? await loadTargetCatalog(connection) : new Catalog([], connection.target.user);
        } catch (error) {
          io.err(`portcullis policy check: ${error instanceof Error ? error.message : String(error)}\n`);
          return ExitCode.unavailable;
        }
        const plans = planStatements(sql as string, {
          catalog,
          searchPath: DEFAULT_SEARCH_PATH,
          columnMask: policy.columnMask,
          denyPredicates: policy.denyPredicates,
          onDerived: policy.onDerived,
        });
        decision = withMaskingRefusal(gated, plans);
        masking = maskingReport(policy.profiles, targetCatalog ? 'target' : 'none', plans);
      }
      const output = {
        effect: decision.effect,
        rule: decision.rule,
        reason: decision.reason,
        ...(decision.statementIndex === undefined ? {} : { statementIndex: decision.statementIndex }),
        facts,
        ...(masking === undefined ? {} : { masking }),
      };
      io.out(`${JSON.stringify(output, null, 2)}\n`);
      return POLICY_EXIT[decision.effect];
    },
  };
}

export const policyCheckCommand = createPolicyCheckCommand();

/** Where unqualified names resolve on a target with default settings (an agent session may differ; the gateway uses its own). */
const DEFAULT_SEARCH_PATH: readonly string[] = ['public'];

interface MaskingReport {
  readonly profiles: readonly string[];
  readonly catalog: 'target' | 'none';
  readonly statements: ReadonlyArray<{
    readonly columns: ReadonlyArray<Record<string, unknown>> | 'unknown';
    readonly refusal?: MaskRefusal;
  }>;
}

function maskingReport(profiles: readonly string[], catalog: 'target' | 'none', plans: readonly StatementMaskPlan[]): MaskingReport {
  return {
    profiles,
    catalog,
    statements: plans.map((plan) => ({
      columns:
        plan.outputs === undefined
          ? 'unknown'
          : plan.outputs.map((o, i) =>
              o === undefined
                ? { position: i + 1, masked: false }
                : { position: i + 1, masked: true, strategy: o.mask.strategy, derived: o.derived, source: o.source, rule: o.mask.rule },
            ),
      ...(plan.refusal === undefined ? {} : { refusal: plan.refusal }),
    })),
  };
}

/** Imported on first use: only --target-catalog needs the PostgreSQL client code. */
async function loadTargetCatalog(connection: PostgresConnectionConfig): Promise<Catalog> {
  const { loadCatalog } = await import('../protocols/postgres/catalog-loader.js');
  return loadCatalog(connection, { maxFrameBytes: 64 * 1024 * 1024 });
}

function usageError(io: CliIo, message: string): ExitCode {
  io.err(`portcullis policy check: ${message}\nRun "portcullis policy check --help" for usage.\n`);
  return ExitCode.usage;
}
