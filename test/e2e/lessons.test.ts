import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FakeTurn } from "../fake-llm/scenario.ts";
import { startFakeModelServer } from "../fake-llm/server.ts";
import { cliEnv, jsonLines, makeSampleRepo, removeDir, runCli, tempDir } from "../helpers/cli.ts";
import { dbEvents, describeResult, editTurn, fakeModelArgs, finishTurn, readTurn } from "./support.ts";

type Event = { runId: string; seq: number; type: string; data: Record<string, unknown> };

const GUIDANCE = "Pad with String.prototype.padStart, do not write your own pad helper.";
const LESSON = "Use String.prototype.padStart for zero padding, not a hand-written pad helper.";

/**
 * Lessons from corrections over the built CLI and the fake model server: a correction in run 1 (guidance
 * given when forking it: an intervention) becomes a lesson drafted by the model, stays pending without a
 * terminal, is accepted with `memory review`, lands in the repo's .entourage/memory.md, and reaches the
 * model in run 2. Then the memory commands on that file.
 */
describe("lessons from corrections (built CLI, fake model server)", () => {
  let home: string;
  let repo: string;
  let server: Awaited<ReturnType<typeof startFakeModelServer>>;
  const memoryFile = () => join(repo, ".entourage", "memory.md");
  const cli = (args: string[], input?: string) => runCli(args, { env: cliEnv(home), input });
  let forkId: string;
  let forkEvents: Event[];
  let lessonId: string;

  const turns: FakeTurn[] = [
    // run 1: read, edit, finish
    readTurn,
    editTurn,
    finishTurn,
    // the fork of run 1 after the read, with guidance: the agent gets the message and finishes
    {
      name: "fork-finish",
      expectMessageContains: [`[Message from the user] ${GUIDANCE}`],
      toolCalls: [{ name: "finish", arguments: { status: "done", summary: "Noted.", files_changed: [] } }],
    },
    // after the fork ends: the drafting request, answered with the lesson
    {
      name: "draft-lesson",
      expectMessageContains: [
        "a message the person sent to the agent",
        GUIDANCE,
        "Task of the run: Fix the date bug",
      ],
      text: LESSON,
    },
    // run 2: every agent's system prompt carries the saved lesson
    {
      name: "run-2",
      expectMessageContains: ["Lessons from earlier corrections", `- ${LESSON}`],
      toolCalls: [{ name: "finish", arguments: { status: "done", summary: "Done.", files_changed: [] } }],
    },
  ];

  before(async () => {
    home = tempDir("home");
    repo = makeSampleRepo();
    server = await startFakeModelServer({ scenario: { name: "lessons", turns } });
  });

  after(async () => {
    await server.close();
    removeDir(home);
    removeDir(repo);
  });

  it("a correction becomes a lesson drafted by the run's model, pending without a terminal", async () => {
    const run1 = await cli([
      "run",
      "Fix the date bug",
      "--repo",
      repo,
      ...fakeModelArgs(server.baseUrl),
      "--json",
      "--no-server",
    ]);
    assert.equal(run1.code, 0, describeResult(run1));
    const events1 = jsonLines(run1.stdout) as unknown as Event[];
    assert.ok(!events1.some((e) => e.type.startsWith("lesson.")), "run 1 had no correction and no lessons");
    const afterRead = events1.find((e) => e.type === "tool.call.ended")!;

    const fork = await cli(["fork", events1[0]!.runId, "--at", String(afterRead.seq), GUIDANCE, "--json"]);
    assert.equal(fork.code, 0, describeResult(fork));
    forkEvents = jsonLines(fork.stdout) as unknown as Event[];
    forkId = forkEvents[0]!.runId;
    // The fork's JSONL shows what happened after it was created; the guidance was logged when it was.
    const intervention = dbEvents(home, forkId).find((e) => e.type === "intervention.received")!;
    assert.equal(intervention.data.message, GUIDANCE);
    const proposed = forkEvents.filter((e) => e.type === "lesson.proposed");
    assert.equal(proposed.length, 1, "one lesson per correction");
    assert.deepEqual(proposed[0]!.data, {
      lessonId: proposed[0]!.data.lessonId,
      text: LESSON,
      sourceSeq: intervention.seq,
      correction: { kind: "intervention", text: GUIDANCE },
      drafted: "model",
    });
    assert.ok(forkEvents.findIndex((e) => e.type === "run.finished") < forkEvents.indexOf(proposed[0]!));
    lessonId = String(proposed[0]!.data.lessonId);
    assert.match(lessonId, /^l_[0-9a-z]{4}$/);
    assert.match(fork.stderr, new RegExp(`entourage memory review ${forkId}`));
    assert.equal(existsSync(memoryFile()), false, "nothing is written to memory.md before a person accepts");
  });

  it("memory review accepts it into .entourage/memory.md with its provenance", async () => {
    const review = await cli(["memory", "review", forkId], "a\n");
    assert.equal(review.code, 0, describeResult(review));
    assert.match(review.stdout, new RegExp(`${lessonId}\\s+${LESSON.replace(/[.]/g, "\\.")}`));
    assert.match(review.stdout, /drafted by the run's model/);
    assert.match(review.stdout, /saved to .*memory\.md/);
    const sourceSeq = forkEvents.find((e) => e.type === "lesson.proposed")!.data.sourceSeq;
    assert.ok(
      readFileSync(memoryFile(), "utf8").includes(
        `- ${LESSON} <!-- id: ${lessonId} · ${forkId} #${sourceSeq} -->\n`,
      ),
    );
    const log = dbEvents(home, forkId);
    assert.deepEqual(log.find((e) => e.type === "lesson.decided")?.data, {
      lessonId,
      decision: "accepted",
      by: "cli",
    });
    assert.equal(log.find((e) => e.type === "lesson.saved")?.data.file, memoryFile());
    const again = await cli(["memory", "review", forkId]);
    assert.match(again.stdout, new RegExp(`${lessonId} accepted`));
  });

  it("run 2 gives every agent the lesson and records that it did", async () => {
    const run2 = await cli([
      "run",
      "Add a formatISOTime helper",
      "--repo",
      repo,
      ...fakeModelArgs(server.baseUrl),
      "--json",
      "--no-server",
    ]);
    assert.equal(run2.code, 0, describeResult(run2));
    const events2 = jsonLines(run2.stdout) as unknown as Event[];
    assert.match(String(events2[0]!.data.projectContext), new RegExp(LESSON.replace(/[.]/g, "\\.")));
    const used = events2.find((e) => e.type === "lesson.used");
    assert.deepEqual(used?.data, { lessonIds: [lessonId], file: join(".entourage", "memory.md") });
    const request = JSON.stringify(server.requests.at(-1)!.body);
    assert.ok(request.includes(LESSON), "the model's request in run 2 contains the lesson");
    assert.deepEqual(server.failures, []);
    assert.equal(server.remainingTurns(), 0);
  });

  it("memory add shows duplicates and contradictions instead of stacking them", async () => {
    const dup = await cli([
      "memory",
      "add",
      "--repo",
      repo,
      "use String.prototype.padStart for zero padding not a hand-written pad helper",
    ]);
    assert.equal(dup.code, 1, describeResult(dup));
    assert.match(dup.stdout, new RegExp(`this duplicates ${lessonId}`));
    const contra = await cli([
      "memory",
      "add",
      "--repo",
      repo,
      "Use a hand-written pad helper for zero padding.",
    ]);
    assert.equal(contra.code, 1, describeResult(contra));
    assert.match(contra.stdout, new RegExp(`this may contradict ${lessonId}`));
    assert.match(contra.stdout, /--keep-both.*--replace/);
    const lessons = (await cli(["memory", "list", "--repo", repo, "--json"])).stdout;
    assert.equal(JSON.parse(lessons).lessons.length, 1, "neither was added");

    const replaced = await cli([
      "memory",
      "add",
      "--repo",
      repo,
      "Use a hand-written pad helper for zero padding.",
      "--replace",
    ]);
    assert.equal(replaced.code, 0, describeResult(replaced));
    assert.match(replaced.stdout, new RegExp(`replacing ${lessonId}`));
    assert.ok(!readFileSync(memoryFile(), "utf8").includes(LESSON));
  });

  it("memory list, edit and rm change only their lesson and keep every other line", async () => {
    const text = [
      "# Team lessons",
      "",
      "Prose the team wrote about these lessons.",
      "- Run npm test before finishing. <!-- id: l_aaaa · run_old #3 -->",
      "- A bullet written by hand",
      "- broken comment <!-- id l_zz -->",
      "",
      "## Notes",
      "1. numbered lines are not lessons",
      "",
    ].join("\n");
    writeFileSync(memoryFile(), text);
    const list = await cli(["memory", "list", "--repo", repo]);
    assert.equal(list.code, 0, describeResult(list));
    assert.match(list.stdout, /2 lessons/);
    assert.match(list.stdout, /l_aaaa {2}Run npm test before finishing\. {2}run_old #3/);
    assert.match(list.stdout, /A bullet written by hand {2}written in memory\.md/);
    assert.match(list.stdout, /line 6 is kept as it is but not used .*broken comment/);
    const json = JSON.parse((await cli(["memory", "list", "--repo", repo, "--json"])).stdout);
    const handId = json.lessons[1].id as string;

    const edit = await cli(["memory", "edit", handId, "Write small commits.", "--repo", repo]);
    assert.equal(edit.code, 0, describeResult(edit));
    const rm = await cli(["memory", "rm", "l_aaaa", "--repo", repo]);
    assert.equal(rm.code, 0, describeResult(rm));
    assert.match(rm.stdout, /removed l_aaaa: Run npm test before finishing\./);
    const missing = await cli(["memory", "rm", "l_nope", "--repo", repo]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /No lesson l_nope/);

    assert.equal(
      readFileSync(memoryFile(), "utf8"),
      text
        .replace("- Run npm test before finishing. <!-- id: l_aaaa · run_old #3 -->\n", "")
        .replace(
          "- A bullet written by hand",
          `- Write small commits. <!-- id: ${handId} · written in memory.md -->`,
        ),
    );
  });
});
