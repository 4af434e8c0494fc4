import pg from "pg";
import { type EntourageEvent, errorMessage, SystemError } from "../../core/index.ts";
import { decodeEventRow } from "../event-codec.ts";
import type { ListenerSet, Positioned } from "../listeners.ts";
import type { EventRow } from "../rows.ts";
import { EVENT_COLUMNS, EVENTS_CHANNEL } from "./postgres-schema.ts";

const PAGE = 500;
const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 5000;

/**
 * The cross-process live tail of a PostgreSQL store: one connection LISTENs on the events channel; each
 * NOTIFY carries the global position of the last event its transaction committed, and the tail reads
 * the rows after its cursor up to there, in position order. Positions become visible in order (see the
 * schema), so "pos > cursor" delivers every event exactly once and in order — also after the connection
 * drops: the tail reconnects (with backoff), LISTENs again and reads everything after its cursor. No
 * polling: between events the connection waits.
 *
 * Every delivery, our own appends' included, goes through one queue, so listeners see each run in seq
 * order whatever arrives first (the commit's reply on the writer connection, or its NOTIFY here).
 */
export class PostgresTail {
  readonly #config: pg.ClientConfig;
  readonly #listeners: ListenerSet;
  readonly #report: (error: unknown) => void;
  readonly #where: string;
  #client: pg.Client | undefined;
  /** Every position up to here was delivered to (or skipped for) the current listeners; -1 before the start. */
  #cursor = -1;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  #reconnectMs = RECONNECT_MIN_MS;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    config: pg.ClientConfig,
    listeners: ListenerSet,
    where: string,
    report: (error: unknown) => void,
  ) {
    this.#config = config;
    this.#listeners = listeners;
    this.#where = where;
    this.#report = report;
  }

  /** The position subscribers added now start after. */
  get cursor(): number {
    return this.#cursor;
  }

  /**
   * Connects, LISTENs, and starts the cursor at the last committed position: events committed from here
   * on are delivered. Resolves once listening (or once the first attempt failed; it then keeps retrying).
   */
  async start(): Promise<void> {
    try {
      await this.#connect();
      await this.#enqueue(() => this.#resume());
    } catch (error) {
      this.#fail(error);
    }
  }

  /** After our own commit of positions `before+1 …`: delivers what others committed first, then ours. */
  deliverOwn(before: number, events: readonly EntourageEvent[]): Promise<void> {
    return this.#enqueue(async () => {
      const last = before + events.length;
      if (this.#listeners.size === 0) {
        this.#cursor = Math.max(this.#cursor, last);
        return;
      }
      if (this.#cursor < before && !(await this.#catchUp(before))) return; // retried on the next NOTIFY
      const items: Positioned[] = [];
      events.forEach((event, i) => {
        if (before + 1 + i > this.#cursor) items.push({ event, pos: before + 1 + i });
      });
      this.#cursor = Math.max(this.#cursor, last);
      this.#listeners.publish(items);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    const client = this.#client;
    this.#client = undefined;
    await this.#queue;
    await client?.end().catch(() => {});
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client({ ...this.#config, application_name: "entourage-tail" });
    client.on("error", (error) => this.#fail(error));
    client.on("end", () => {
      if (this.#client === client) this.#fail(new Error("the connection closed"));
    });
    client.on("notification", (message) => {
      if (message.channel !== EVENTS_CHANNEL) return;
      const upTo = Number(message.payload);
      if (Number.isFinite(upTo)) void this.#enqueue(() => this.#catchUp(upTo));
    });
    await client.connect();
    await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    if (this.#closed) {
      await client.end().catch(() => {});
      throw new Error("closed");
    }
    this.#client = client;
    this.#reconnectMs = RECONNECT_MIN_MS;
    return client;
  }

  /** The connection failed: report it, drop it, reconnect later and catch up on what was missed. */
  #fail(error: unknown): void {
    if (this.#closed) return;
    const client = this.#client;
    this.#client = undefined;
    client?.end().catch(() => {});
    this.#report(
      new SystemError(
        "store_tail_failed",
        `Following new events in ${this.#where} failed: ${errorMessage(error)}; reconnecting.`,
        { cause: error, retryable: true },
      ),
    );
    if (this.#reconnectTimer) return;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#connect().then(
        () => this.#enqueue(() => this.#resume()),
        (retryError: unknown) => {
          this.#reconnectMs = Math.min(this.#reconnectMs * 2, RECONNECT_MAX_MS);
          this.#fail(retryError);
        },
      );
    }, this.#reconnectMs);
    this.#reconnectTimer.unref();
  }

  #enqueue(task: () => Promise<unknown>): Promise<void> {
    const next = this.#queue.then(task).then(
      () => {},
      (error: unknown) => this.#report(error),
    );
    this.#queue = next;
    return next;
  }

  /**
   * Listening (again): the first time, start after the last committed position; after a reconnect, deliver
   * everything committed while the connection was down.
   */
  async #resume(): Promise<void> {
    const client = this.#client;
    if (!client) return;
    let last: number;
    try {
      const { rows } = await client.query("SELECT last::float8 AS last FROM entourage.position");
      last = Number((rows[0] as { last: number }).last);
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (this.#cursor < 0) this.#cursor = last;
    else await this.#catchUp(last);
  }

  /**
   * Delivers committed events with `cursor < pos <= upTo` that some listener wants, in position order.
   * False when it could not read (no connection, or the query failed: reported); the cursor then stays,
   * so nothing is skipped: the next NOTIFY or the reconnect reads it.
   */
  async #catchUp(upTo: number): Promise<boolean> {
    while (this.#cursor < upTo) {
      const client = this.#client;
      if (!client || this.#cursor < 0) return false;
      if (this.#listeners.size === 0) {
        this.#cursor = upTo;
        return true;
      }
      const runs = this.#listeners.wantsAll ? null : this.#listeners.scopes();
      let rows: (EventRow & { pos: number })[];
      try {
        rows = (
          await client.query(
            `SELECT pos::float8 AS pos, ${EVENT_COLUMNS} FROM entourage.events
              WHERE pos > $1 AND pos <= $2 AND ($3::text[] IS NULL OR run_id = ANY($3)) ORDER BY pos LIMIT ${PAGE}`,
            [this.#cursor, upTo, runs],
          )
        ).rows as (EventRow & { pos: number })[];
      } catch (error) {
        this.#report(
          new SystemError(
            "store_tail_failed",
            `Reading new events from ${this.#where} failed: ${errorMessage(error)}`,
            {
              cause: error,
              retryable: true,
            },
          ),
        );
        return false;
      }
      const items: Positioned[] = [];
      for (const row of rows) {
        try {
          items.push({ event: decodeEventRow(row), pos: row.pos });
        } catch (error) {
          this.#report(error);
        }
      }
      this.#cursor = rows.length < PAGE ? upTo : (rows[rows.length - 1] as { pos: number }).pos;
      this.#listeners.publish(items);
    }
    return true;
  }
}
