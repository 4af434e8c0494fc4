import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { removeDir, tempDir } from "../helpers/cli.ts";
import { createHarness, post } from "../server/harness.ts";

/** The lessons routes in-process (app.request): list with conflicts, decide, and the refusals. */
describe("API: a run's lessons", () => {
  const repo = tempDir("lessons-api");
  after(() => removeDir(repo));
  const memory = join(repo, ".entourage", "memory.md");

  async function setup() {
    mkdirSync(join(repo, ".entourage"), { recursive: true });
    writeFileSync(memory, "# Lessons\n\n- Use pyjwt for tokens. <!-- id: l_old1 · by hand -->\nA note.\n");
    const h = createHarness();
    await h.addRun("run_l", { data: { repo } });
    await h.store.append("run_l", [
      {
        type: "intervention.received",
        data: { interventionId: "i1", message: "use jose, not pyjwt", interrupt: false, by: "api" },
      },
      { type: "run.finished", data: { status: "succeeded", summary: "ok" } },
      {
        type: "lesson.proposed",
        data: {
          lessonId: "l_new1",
          text: "Use the jose library for JWT, not pyjwt.",
          sourceSeq: 2,
          correction: { kind: "intervention", text: "use jose, not pyjwt" },
          drafted: "model",
        },
      },
      {
        type: "lesson.proposed",
        data: { lessonId: "l_new2", text: "Keep helpers small.", sourceSeq: 2, drafted: "quoted" },
      },
    ]);
    return h;
  }

  it("lists proposals with the saved lessons they clash with, and decides them", async () => {
    const h = await setup();
    const list = await h.request("/runs/run_l/lessons");
    assert.equal(list.status, 200);
    const body = (await list.json()) as { file: string; lessons: Record<string, unknown>[] };
    assert.equal(body.file, memory);
    assert.deepEqual(body.lessons[0]!.conflicts, {
      duplicates: [],
      contradictions: [{ id: "l_old1", text: "Use pyjwt for tokens." }],
    });

    const refused = await h.request("/runs/run_l/lessons/l_new1", post({ decision: "accepted" }));
    assert.equal(refused.status, 409);
    assert.match(
      ((await refused.json()) as { error: { message: string } }).error.message,
      /may contradict l_old1/,
    );
    assert.ok(!readFileSync(memory, "utf8").includes("jose"), "nothing written on a refusal");

    const replaced = await h.request(
      "/runs/run_l/lessons/l_new1",
      post({ decision: "accepted", replace: ["l_old1"] }),
    );
    assert.equal(replaced.status, 200, await replaced.clone().text());
    assert.equal(
      readFileSync(memory, "utf8"),
      "# Lessons\n\n- Use the jose library for JWT, not pyjwt. <!-- id: l_new1 · run_l #2 -->\nA note.\n",
    );
    const noText = await h.request("/runs/run_l/lessons/l_new2", post({ decision: "edited" }));
    assert.equal(noText.status, 400);
    const rejected = await h.request("/runs/run_l/lessons/l_new2", post({ decision: "rejected" }));
    assert.equal(rejected.status, 200);
    const again = await h.request("/runs/run_l/lessons/l_new2", post({ decision: "accepted" }));
    assert.equal(again.status, 409);
    const unknown = await h.request("/runs/run_l/lessons/l_nope", post({ decision: "rejected" }));
    assert.equal(unknown.status, 404);

    const events = await h.store.read("run_l");
    assert.deepEqual(
      events.filter((e) => e.type === "lesson.decided").map((e) => e.data),
      [
        { lessonId: "l_new1", decision: "accepted", by: "api", replace: ["l_old1"] },
        { lessonId: "l_new2", decision: "rejected", by: "api" },
      ],
    );
  });
});
