/**
 * The layers of src/ and the rules that keep them (checked by `npm run check:deps`, part of `npm test`).
 * docs/architecture.md draws the same picture. A module may import its own layer and the layers below it:
 *
 *   cli                      composition root, commands, terminal, remote clients
 *   server                   HTTP API and dashboard serving
 *   orchestrator · plugins   the engine: agent loop, modes, control
 *   tools                    what agents can call
 *   sandbox · memory         where commands run; lessons
 *   store · llm · workspace · agents · config · telemetry
 *   core                     events, state fold, errors, vocabulary (imports nothing of ours)
 *
 * web/ (the dashboard) imports only core, and the API's types from src/server/ (type-only).
 */
const LAYERS = [
  ["core"],
  ["store", "llm", "workspace", "agents", "config", "telemetry"],
  ["sandbox", "memory"],
  ["tools"],
  ["orchestrator", "plugins"],
  ["server"],
  ["cli"],
];

const folder = (names) => `^src/(${names.join("|")})/`;

/** For each layer, every layer above it is forbidden. */
const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer.join("-")}`,
  comment: `${layer.join(", ")} must not import the layers above it (${LAYERS.slice(i + 1)
    .flat()
    .join(", ")})`,
  severity: "error",
  from: { path: folder(layer), pathNot: "\\.test\\.ts$" },
  to: { path: folder(LAYERS.slice(i + 1).flat()) },
}));

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "No import cycles, type-only ones included: a newcomer reads the tree from the bottom up.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: "web-imports-core-only",
      comment: "The dashboard bundles core (events, state fold, vocabulary) and nothing else of src/.",
      severity: "error",
      from: { path: "^web/src/", pathNot: "\\.test\\.tsx?$" },
      to: { path: "^src/", pathNot: "^src/core/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "web-types-from-the-api",
      comment: "Besides core, the dashboard takes only the API's types (src/server/), as types.",
      severity: "error",
      from: { path: "^web/src/", pathNot: "\\.test\\.tsx?$" },
      to: { path: "^src/", pathNot: ["^src/core/", "^src/server/"] },
    },
    {
      name: "sandbox-backends-apart",
      comment: "A sandbox backend uses backends/shared, never another backend.",
      severity: "error",
      from: { path: "^src/sandbox/backends/([^/]+)/" },
      to: {
        path: "^src/sandbox/backends/([^/]+)/",
        pathNot: ["^src/sandbox/backends/$1/", "^src/sandbox/backends/shared/"],
      },
    },
    {
      name: "no-test-support-in-src",
      comment: "Shipped code never imports test support (test/): it is not in dist/.",
      severity: "error",
      from: { path: "^src/", pathNot: "\\.test\\.ts$" },
      to: { path: "^test/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(node_modules|dist)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".tsx", ".js"] },
  },
};
