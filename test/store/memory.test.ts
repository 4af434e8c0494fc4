import { runEventStoreConformance } from "../../src/store/event-store.conformance.ts";
import { createMemoryEventStore } from "../../src/store/index.ts";

runEventStoreConformance("memory", (deps) => createMemoryEventStore(deps));
