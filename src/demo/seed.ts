/**
 * The demo database: customers full of (obviously fake) PII for the masking detectors to
 * find, and orders for the write-approval flow. Idempotent: safe on every demo start.
 *
 * All values are reserved-for-testing: @example.com emails, 202-555-01xx fiction phone
 * numbers and the card networks' published test PANs (Luhn-valid, never chargeable).
 * Cards and phones come in several spellings because agents' data does.
 */
import pg from 'pg';
import type { EmbeddedPostgres } from './embedded-postgres.js';

export interface SeedOptions {
  database: string;
  agentRole: string;
  agentPassword: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

const NAMES = [
  'Ada Lovelace', 'Alan Turing', 'Grace Hopper', 'Edsger Dijkstra', 'Barbara Liskov',
  'Donald Knuth', 'Margaret Hamilton', 'Ken Thompson', 'Radia Perlman', 'Dennis Ritchie',
  'Frances Allen', 'John McCarthy', 'Shafi Goldwasser', 'Leslie Lamport', 'Sophie Wilson',
  'Tony Hoare', 'Katherine Johnson', 'Niklaus Wirth', 'Annie Easley', 'Claude Shannon',
];

const TEST_CARDS = [
  '4111 1111 1111 1111', '5555 5555 5555 4444', '3782 822463 10005', '6011 1111 1111 1117',
  '4012888888881881', '5105105105105100', '371449635398431', '6011000990139424',
  '4242-4242-4242-4242', '5200-8282-8282-8210', '3056 9309 0259 04', '3530111333300000',
  '4000056655665556', '2223003122003222', '378734493671000', '3852 0000 0232 37',
  '4222222222222', '5431111111111111', '3566002020360505', '4917610000000000',
];

export async function seedDemoDatabase(pg: EmbeddedPostgres, options: SeedOptions): Promise<void> {
  const { database, agentRole, agentPassword } = options;
  if (!IDENTIFIER.test(database)) throw new Error(`database name ${JSON.stringify(database)} must match ${IDENTIFIER}`);
  // PostgreSQL would silently store no password for '', and the agent could never log in.
  if (agentPassword === '') throw new Error('the demo agent role needs a non-empty password');

  const exists = await pg.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
  if (exists.length === 0) await pg.query(`CREATE DATABASE ${quote(database)}`);
  await pg.createRole(agentRole, agentPassword, 'scram-sha-256');

  const app = { database };
  const agent = quote(agentRole);
  for (const ddl of [
    `CREATE TABLE IF NOT EXISTS customers (
       id serial PRIMARY KEY, full_name text NOT NULL, email text, card_number text, phone text,
       created_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE TABLE IF NOT EXISTS orders (
       id serial PRIMARY KEY, customer_id int REFERENCES customers, amount_cents int, status text,
       created_at timestamptz)`,
    `GRANT CONNECT ON DATABASE ${quote(database)} TO ${agent}`,
    `GRANT USAGE ON SCHEMA public TO ${agent}`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON customers, orders TO ${agent}`,
    `GRANT USAGE, SELECT ON SEQUENCE customers_id_seq, orders_id_seq TO ${agent}`,
  ]) {
    await pg.query(ddl, [], app);
  }

  // Each INSERT is one statement guarded by NOT EXISTS, so a rerun (or a run interrupted
  // between the two) never duplicates rows.
  const customers = fakeCustomers();
  await pg.query(
    `INSERT INTO customers (full_name, email, card_number, phone, created_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
     WHERE NOT EXISTS (SELECT 1 FROM customers)`,
    [customers.map((c) => c.fullName), customers.map((c) => c.email), customers.map((c) => c.card),
     customers.map((c) => c.phone), customers.map((c) => c.createdAt)],
    app,
  );
  const orders = fakeOrders(customers.length);
  await pg.query(
    `INSERT INTO orders (customer_id, amount_cents, status, created_at)
     SELECT c.id, o.amount_cents, o.status, o.created_at
     FROM unnest($1::int[], $2::int[], $3::text[], $4::timestamptz[]) AS o(customer_rank, amount_cents, status, created_at)
     JOIN (SELECT id, row_number() OVER (ORDER BY id) AS rank FROM customers) c ON c.rank = o.customer_rank
     WHERE NOT EXISTS (SELECT 1 FROM orders)`,
    [orders.map((o) => o.customerRank), orders.map((o) => o.amountCents), orders.map((o) => o.status),
     orders.map((o) => o.createdAt)],
    app,
  );
}

interface FakeCustomer {
  fullName: string;
  email: string;
  card: string;
  phone: string;
  createdAt: string;
}

function fakeCustomers(): FakeCustomer[] {
  return NAMES.map((fullName, i) => {
    const [first = '', last = ''] = fullName.toLowerCase().split(' ');
    const line = String(i).padStart(2, '0');
    return {
      fullName,
      email: `${first}.${last}@example.com`,
      card: TEST_CARDS[i % TEST_CARDS.length]!,
      phone: i % 3 === 0 ? `+1-202-555-01${line}` : i % 3 === 1 ? `(202) 555-01${line}` : `+120255501${line}`,
      createdAt: new Date(Date.UTC(2024, 0, 1 + i * 9)).toISOString(),
    };
  });
}

interface FakeOrder {
  customerRank: number;
  amountCents: number;
  status: string;
  createdAt: string;
}

function fakeOrders(customerCount: number): FakeOrder[] {
  const statuses = ['pending', 'paid', 'shipped', 'delivered', 'refunded'];
  // Deterministic, so demo screenshots and docs stay true from run to run.
  return Array.from({ length: 50 }, (_, i) => ({
    customerRank: (i * 7) % customerCount + 1,
    amountCents: 500 + ((i * 7919) % 49_500),
    status: statuses[i % statuses.length]!,
    createdAt: new Date(Date.UTC(2024, 6, 1, 9 + (i % 8)) + i * 86_400_000).toISOString(),
  }));
}

function quote(identifier: string): string {
  return pg.escapeIdentifier(identifier);
}
