import { createMemoryEventStore } from "../../src/store/index.ts";
import { runEventStoreConformance } from "../support/store/event-store.conformance.ts";

runEventStoreConformance("memory", (deps) => createMemoryEventStore(deps));
