export {
  type FakeToolCall,
  type FakeTurn,
  loadScenario,
  parseScenario,
  type Scenario,
  type ScenarioInput,
} from "./scenario.ts";
export {
  type FakeModelServer,
  type FakeModelServerOptions,
  type RecordedRequest,
  startFakeModelServer,
  type WireApi,
  wireOf,
} from "./server.ts";
