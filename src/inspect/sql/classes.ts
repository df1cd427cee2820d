import type { SqlClass } from './facts.js';

/**
 * Classes from least to most dangerous. A statement's class is the most dangerous class
 * of anything it contains. `unknown` ranks above `admin`: a policy may allow `admin` to
 * a DBA group, but nothing may ever be allowed on the strength of a class the
 * inspector could not determine.
 */
export const SQL_CLASS_ORDER: readonly SqlClass[] = [
  'read',
  'transaction',
  'session',
  'write',
  'ddl',
  'admin',
  'unknown',
];

const RANK: Readonly<Record<SqlClass, number>> = {
  read: 0,
  transaction: 1,
  session: 2,
  write: 3,
  ddl: 4,
  admin: 5,
  unknown: 6,
};

export function classRank(c: SqlClass): number {
  return RANK[c];
}

export function classOfRank(rank: number): SqlClass {
  return SQL_CLASS_ORDER[rank] ?? 'unknown';
}

/** The more dangerous of two classes. */
export function moreDangerous(a: SqlClass, b: SqlClass): SqlClass {
  return RANK[a] >= RANK[b] ? a : b;
}
