import { after } from "node:test";
import { openPostgresEventStore } from "../../src/store/backends/postgres.ts";
import { runEventStoreConformance } from "../../src/store/event-store.conformance.ts";
import { postgresForTests } from "../helpers/postgres.ts";

const { cluster, skip } = await postgresForTests();
after(() => cluster?.stop());

runEventStoreConformance(
  "postgres",
  async (deps) => openPostgresEventStore(await cluster!.createDatabase("conformance"), deps),
  { skip },
);
