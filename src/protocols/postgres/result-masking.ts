/**
 * Masks what one session's target sends back, message by message, in the order the target
 * sends it. Pure: the session tells it what it forwarded to the target (queries with their
 * mask plans, binds, executes, syncs) and hands it each reply; it answers with the bytes to
 * send instead (or undefined: send the original), and which replies are the gateway's own.
 *
 * Which columns a row's values are: for a simple query, the RowDescription the target sends
 * before the rows, paired with the statement's plan; for the extended protocol, the reply to
 * a Describe of the portal the gateway adds after every Bind (its reply is swallowed), so the
 * real result formats are known even when the client described only the statement — or never.
 *
 * A row arriving with no description, or a description that does not fit the plan, ends the
 * session (MaskingStateError): nothing is ever forwarded unmasked because state was lost.
 */
import type { Catalog } from '../../masking/catalog.js';
import { maskCopyRow } from '../../masking/copy-masker.js';
import { maskedRelationColumns } from '../../masking/lineage.js';
import { maskNoticeOrError, maskNotification } from '../../masking/message-masker.js';
import type { OutputMask, StatementMaskPlan } from '../../masking/plan.js';
import type { MaskingPolicy } from '../../masking/policy.js';
import { stricterStrategy } from '../../masking/policy.js';
import { compileRowPlan, maskDataRow, type RowMaskPlan } from '../../masking/row-masker.js';
import type { ValueMasker } from '../../masking/value-masker.js';
import { parseRowDescription, type RowField } from './codec.js';

export class MaskingStateError extends Error {
  override readonly name = 'MaskingStateError';
}

/** A result's columns: how its rows are masked, and each column's format (for recording rows). */
interface Described {
  readonly mask: RowMaskPlan;
  readonly formats: readonly number[];
}

/** What a portal's rows look like, learnt from the gateway's own Describe after its Bind. */
interface PortalState {
  readonly plan: StatementMaskPlan | undefined;
  rows: Described | 'no-data' | undefined;
}

type Pending =
  | { readonly kind: 'query'; readonly plans: readonly StatementMaskPlan[]; next: number }
  | { readonly kind: 'bind'; readonly portal: PortalState; readonly described: boolean }
  | { readonly kind: 'execute'; readonly portal: PortalState | undefined }
  | { readonly kind: 'sync' };

interface CopyState {
  /** undefined: rows pass as they are (a policy that masks nothing, kept only to record rows). */
  readonly plan: StatementMaskPlan | undefined;
  headerPending: boolean;
}

export type DescriptionAction = 'forward' | 'swallow' | 'needs-catalog';

/** Relation masks per catalog snapshot and policy: computed once, shared by every session. */
const relationMasksMemo = new WeakMap<Catalog, WeakMap<MaskingPolicy, ReadonlyMap<number, ReadonlyMap<number, OutputMask>>>>();

function relationMasksOf(catalog: Catalog, policy: MaskingPolicy): ReadonlyMap<number, ReadonlyMap<number, OutputMask>> {
  let byPolicy = relationMasksMemo.get(catalog);
  if (byPolicy === undefined) {
    byPolicy = new WeakMap();
    relationMasksMemo.set(catalog, byPolicy);
  }
  const known = byPolicy.get(policy);
  if (known !== undefined) return known;
  const masks = maskedRelationColumns(catalog, policy.columnMask, policy.onDerived);
  byPolicy.set(policy, masks);
  return masks;
}

const UNKNOWN_RELATION_MASK: OutputMask = {
  mask: { strategy: 'redact', label: 'MASKED', rule: 'masking: column of a relation Portcullis cannot see in the catalog' },
  derived: true,
  source: 'unknown relation',
};

export class ResultMasking {
  private readonly pending: Pending[] = [];
  private readonly portals = new Map<string, PortalState>();
  private describing: PortalState | undefined;
  private current: Described | undefined;
  private copy: CopyState | undefined;
  private relationMasks: ReadonlyMap<number, ReadonlyMap<number, OutputMask>>;
  /** Relations already looked for by a catalog refresh: not asked for again. */
  private readonly refreshedFor = new Set<number>();

  /** Masks nothing: tracks result columns only so rows can be recorded (see NO_MASKING). */
  readonly inert: boolean;

  constructor(
    readonly policy: MaskingPolicy,
    private catalog: Catalog,
    private readonly masker: ValueMasker,
  ) {
    this.relationMasks = relationMasksOf(catalog, policy);
    this.inert = !policy.hasColumnRules && policy.detectors.length === 0;
  }

  get snapshot(): Catalog {
    return this.catalog;
  }

  /** A newer catalog (after a refresh for relations this one lacks). */
  setCatalog(catalog: Catalog, lookedFor: readonly number[]): void {
    this.catalog = catalog;
    this.relationMasks = relationMasksOf(catalog, this.policy);
    for (const oid of lookedFor) this.refreshedFor.add(oid);
  }

  // ------------------------------------------------------------------ what was sent to the target

  query(plans: readonly StatementMaskPlan[]): void {
    this.pending.push({ kind: 'query', plans, next: 0 });
  }

  /**
   * A Bind forwarded; `described` when the gateway sends its own Describe of the portal right
   * after it (always, for a Bind that may run). A refused Bind (it will fail) is not described.
   */
  bind(portal: string, plan: StatementMaskPlan | undefined, described: boolean): void {
    const state: PortalState = { plan, rows: undefined };
    this.portals.set(portal, state);
    this.pending.push({ kind: 'bind', portal: state, described });
  }

  execute(portal: string): void {
    this.pending.push({ kind: 'execute', portal: this.portals.get(portal) });
  }

  sync(): void {
    this.pending.push({ kind: 'sync' });
  }

  // ------------------------------------------------------------------ what the target sent

  bindComplete(): void {
    const head = this.pending[0];
    if (head?.kind !== 'bind') throw new MaskingStateError('BindComplete without a pending Bind');
    this.pending.shift();
    if (head.described) this.describing = head.portal;
  }

  /** Relations in a RowDescription the catalog does not know (and no refresh looked for yet). */
  unknownRelations(body: Buffer): number[] {
    const unknown: number[] = [];
    for (const f of parseRowDescription(body)) {
      if (f.tableOid !== 0 && this.catalog.byOid(f.tableOid) === undefined && !this.refreshedFor.has(f.tableOid)) unknown.push(f.tableOid);
    }
    return unknown;
  }

  /** A RowDescription: the gateway's own Describe reply is swallowed; the rest are forwarded. */
  rowDescription(body: Buffer): 'forward' | 'swallow' {
    const fields = parseRowDescription(body);
    if (this.describing !== undefined) {
      const portal = this.describing;
      this.describing = undefined;
      portal.rows = this.rowPlan(fields, portal.plan);
      return 'swallow';
    }
    const head = this.pending[0];
    if (head?.kind === 'query') this.current = this.rowPlan(fields, nextRowsPlan(head));
    return 'forward';
  }

  noData(): 'forward' | 'swallow' {
    if (this.describing === undefined) return 'forward';
    this.describing.rows = 'no-data';
    this.describing = undefined;
    return 'swallow';
  }

  /** The DataRow frame to send instead, or undefined to send `body`'s frame as it is. */
  dataRow(body: Buffer): Buffer | undefined {
    const described = this.described();
    if (described === undefined) throw new MaskingStateError('a result row arrived whose columns Portcullis does not know, so it cannot be masked');
    return guarded(() => maskDataRow(body, described.mask, this.masker));
  }

  /** The result format (0 text, 1 binary) of each column of the rows now arriving. */
  currentFormats(): readonly number[] | undefined {
    return this.described()?.formats;
  }

  private described(): Described | undefined {
    const head = this.pending[0];
    if (head?.kind === 'query') return this.current;
    if (head?.kind === 'execute' && head.portal?.rows !== 'no-data') return head.portal?.rows;
    return undefined;
  }

  /** CommandComplete, EmptyQueryResponse or PortalSuspended: the current statement's result ended. */
  resultEnded(): void {
    this.current = undefined;
    this.copy = undefined;
    if (this.pending[0]?.kind === 'execute') this.pending.shift();
  }

  copyOut(): void {
    const head = this.pending[0];
    const plan = head?.kind === 'query' ? nextRowsPlan(head) : head?.kind === 'execute' ? head.portal?.plan : undefined;
    if (plan?.copy !== undefined) this.copy = { plan, headerPending: plan.copy.header };
    else if (this.inert) this.copy = { plan: undefined, headerPending: false };
    else throw new MaskingStateError('a COPY result arrived for a statement Portcullis did not plan as COPY, so it cannot be masked');
  }

  copyData(body: Buffer): Buffer | undefined {
    const copy = this.copy;
    if (copy === undefined) throw new MaskingStateError('COPY data arrived outside a COPY result');
    const isHeader = copy.headerPending;
    copy.headerPending = false;
    const plan = copy.plan;
    if (plan === undefined) return undefined;
    return guarded(() => maskCopyRow(body, plan.copy!, plan.outputs ?? [], this.masker, this.scanContent, isHeader, this.catalog.textTypeOids));
  }

  copyDone(): void {
    this.copy = undefined;
  }

  /** ErrorResponse: the rest of the failed pipeline up to its Sync is skipped by the target. */
  error(): void {
    this.describing = undefined;
    this.current = undefined;
    this.copy = undefined;
    // Within a simple query the error ends it (ReadyForQuery follows); in a pipeline, what
    // was sent up to the next Sync is skipped.
    for (let head = this.pending[0]; head !== undefined && head.kind !== 'sync' && head.kind !== 'query'; head = this.pending[0]) {
      this.pending.shift();
    }
  }

  /** NoticeResponse or ErrorResponse fields: values quoted in them are masked too. */
  notice(type: number, body: Buffer): Buffer | undefined {
    return guarded(() => maskNoticeOrError(type, body, this.masker, this.policy.hasColumnRules));
  }

  notification(body: Buffer): Buffer | undefined {
    return guarded(() => maskNotification(body, this.masker));
  }

  readyForQuery(): void {
    this.describing = undefined;
    this.current = undefined;
    this.copy = undefined;
    for (;;) {
      const head = this.pending.shift();
      if (head === undefined || head.kind === 'sync' || head.kind === 'query') return;
    }
  }

  // ------------------------------------------------------------------ internals

  private get scanContent(): boolean {
    return this.policy.detectors.length > 0;
  }

  private rowPlan(fields: readonly RowField[], plan: StatementMaskPlan | undefined): Described {
    const masks = this.columnMasks(fields, plan?.outputs);
    const mask = compileRowPlan(
      fields.map((f) => ({ typeOid: f.typeOid, format: f.format === 1 ? 1 : 0 })),
      masks,
      { scanContent: this.scanContent, textTypeOids: this.catalog.textTypeOids },
    );
    return { mask, formats: fields.map((f) => f.format) };
  }

  /**
   * Per column: the stricter of what lineage says of the output at that position and what
   * the catalog says of the source column RowDescription names.
   */
  private columnMasks(fields: readonly RowField[], outputs: ReadonlyArray<OutputMask | undefined> | undefined): Array<OutputMask | undefined> {
    // Lineage that counted other columns than the target sent cannot be paired by position:
    // every column then gets its strictest mask rather than risk a shifted one.
    const strictest = outputs !== undefined && outputs.length !== fields.length ? strictestOf(outputs) : undefined;
    return fields.map((f, i) => {
      const fromLineage = strictest ?? (outputs?.length === fields.length ? outputs[i] : undefined);
      let fromSource: OutputMask | undefined;
      if (f.tableOid !== 0) {
        fromSource = this.catalog.byOid(f.tableOid) === undefined ? UNKNOWN_RELATION_MASK : this.relationMasks.get(f.tableOid)?.get(f.attnum);
      }
      return stricterOutput(fromLineage, fromSource);
    });
  }
}

/** A message the maskers cannot take apart is not forwarded unmasked: the session ends, saying why. */
function guarded(mask: () => Buffer | undefined): Buffer | undefined {
  try {
    return mask();
  } catch (err) {
    if (err instanceof MaskingStateError) throw err;
    throw new MaskingStateError(`a result could not be masked (${err instanceof Error ? err.message : String(err)})`);
  }
}

function nextRowsPlan(head: { readonly plans: readonly StatementMaskPlan[]; next: number }): StatementMaskPlan | undefined {
  while (head.next < head.plans.length) {
    const plan = head.plans[head.next++]!;
    if (plan.returnsRows) return plan;
  }
  return undefined;
}

function stricterOutput(a: OutputMask | undefined, b: OutputMask | undefined): OutputMask | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const strategy = stricterStrategy(a.mask.strategy, b.mask.strategy);
  const winner = strategy === a.mask.strategy ? a : b;
  // A derived value must never be shown partially, whichever side it came from.
  return a.derived || b.derived ? { ...winner, derived: true } : winner;
}

function strictestOf(outputs: ReadonlyArray<OutputMask | undefined>): OutputMask | undefined {
  let found: OutputMask | undefined;
  for (const o of outputs) found = stricterOutput(found, o === undefined ? undefined : { ...o, derived: true });
  return found;
}
