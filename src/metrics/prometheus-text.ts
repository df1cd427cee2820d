/**
 * A minimal Prometheus registry and text exposition (format 0.0.4): counters, gauges and
 * histograms with labels. Hot paths hold a label child (created once, up front) and only
 * add to a number on it; all formatting happens at scrape time. Written here rather than
 * taking `prom-client` because this is all the gateway needs (about 150 lines, no
 * dependency, no global default registry) and it stays a pure, byte-testable encoder.
 */

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** `# HELP` text: backslash and newline escaped. */
export function escapeHelp(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
}

/** A label value: backslash, double quote and newline escaped. */
export function escapeLabelValue(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

/** Sample values as the format spells them: `+Inf`, `-Inf`, `NaN`, else the shortest decimal. */
export function formatValue(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (Number.isNaN(value)) return 'NaN';
  return String(value);
}

/** `{a="x",b="y"}`, or nothing for no labels. */
export function formatLabels(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return '';
  return `{${names.map((name, i) => `${name}="${escapeLabelValue(values[i] ?? '')}"`).join(',')}}`;
}

/** One metric family: HELP and TYPE lines, then each sample line. */
export function formatFamily(name: string, help: string, type: MetricType, samples: readonly string[]): string {
  return `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n${samples.join('')}`;
}

export class CounterChild {
  value = 0;
  inc(amount = 1): void {
    // A counter only goes up; a negative or NaN amount is a programming error, dropped rather than thrown on a hot path.
    if (amount >= 0) this.value += amount;
  }
}

export class GaugeChild {
  value = 0;
  inc(amount = 1): void {
    this.value += amount;
  }
  dec(amount = 1): void {
    this.value -= amount;
  }
  set(value: number): void {
    this.value = value;
  }
}

export class HistogramChild {
  /** Per-bucket counts (not cumulative); the last slot is the +Inf bucket. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** A handful of comparisons (the bucket list is fixed and short): constant time. */
  observe(value: number): void {
    if (Number.isNaN(value)) return;
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

interface Family {
  render(): string;
}

abstract class LabelledFamily<C> implements Family {
  private readonly children = new Map<string, { values: readonly string[]; child: C }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith('__') || label === 'le') throw new Error(`invalid label name ${JSON.stringify(label)} on ${name}`);
    }
  }

  /** The child for these label values, created on first use. Look it up once and keep it: this is not for hot paths. */
  labels(...values: string[]): C {
    if (values.length !== this.labelNames.length) {
      throw new Error(`${this.name} takes ${this.labelNames.length} label values (${this.labelNames.join(', ')}), got ${values.length}`);
    }
    const key = JSON.stringify(values);
    let entry = this.children.get(key);
    if (entry === undefined) {
      entry = { values, child: this.create() };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  get size(): number {
    return this.children.size;
  }

  render(): string {
    const samples: string[] = [];
    for (const { values, child } of this.children.values()) samples.push(...this.samples(formatLabels(this.labelNames, values), values, child));
    return formatFamily(this.name, this.help, this.type, samples);
  }

  protected abstract readonly type: MetricType;
  protected abstract create(): C;
  protected abstract samples(labels: string, values: readonly string[], child: C): string[];
}

/** A family whose children each hold one number (counters and gauges). */
abstract class ValueFamily<C extends { readonly value: number }> extends LabelledFamily<C> {
  protected samples(labels: string, _values: readonly string[], child: C): string[] {
    return [`${this.name}${labels} ${formatValue(child.value)}\n`];
  }
}

export class CounterFamily extends ValueFamily<CounterChild> {
  protected readonly type = 'counter';
  protected create(): CounterChild {
    return new CounterChild();
  }
}

export class GaugeFamily extends ValueFamily<GaugeChild> {
  protected readonly type = 'gauge';
  protected create(): GaugeChild {
    return new GaugeChild();
  }
}

export class HistogramFamily extends LabelledFamily<HistogramChild> {
  protected readonly type = 'histogram';

  constructor(name: string, help: string, labelNames: readonly string[], readonly bounds: readonly number[]) {
    super(name, help, labelNames);
    if (bounds.length === 0 || bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (bounds[i - 1] as number)))) {
      throw new Error(`${name}: histogram buckets must be finite and strictly increasing`);
    }
  }

  protected create(): HistogramChild {
    return new HistogramChild(this.bounds);
  }

  protected samples(_labels: string, values: readonly string[], child: HistogramChild): string[] {
    const names = [...this.labelNames, 'le'];
    const lines: string[] = [];
    let cumulative = 0;
    for (let i = 0; i <= this.bounds.length; i++) {
      cumulative += child.counts[i] as number;
      const le = i < this.bounds.length ? formatValue(this.bounds[i] as number) : '+Inf';
      lines.push(`${this.name}_bucket${formatLabels(names, [...values, le])} ${formatValue(cumulative)}\n`);
    }
    const labels = formatLabels(this.labelNames, values);
    lines.push(`${this.name}_sum${labels} ${formatValue(child.sum)}\n`, `${this.name}_count${labels} ${formatValue(child.count)}\n`);
    return lines;
  }
}

/** A value read at scrape time (process memory, CPU…), never on a hot path. */
export class CollectedFamily implements Family {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
    private readonly read: () => number,
  ) {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
  }

  render(): string {
    return formatFamily(this.name, this.help, this.type, [`${this.name} ${formatValue(this.read())}\n`]);
  }
}

/** The families exposed on one endpoint, in registration order. */
export class Registry {
  private readonly families = new Map<string, Family>();

  register<F extends Family & { readonly name: string }>(family: F): F {
    if (this.families.has(family.name)) throw new Error(`metric ${family.name} is registered twice`);
    this.families.set(family.name, family);
    return family;
  }

  /** The whole exposition, ready to serve with CONTENT_TYPE. */
  render(): string {
    return [...this.families.values()].map((family) => family.render()).join('');
  }
}
