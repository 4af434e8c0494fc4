import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FakeTurn } from "../fake-llm/scenario.ts";
import { startFakeModelServer } from "../fake-llm/server.ts";
import { cliEnv, fakeModelFlags, makeSampleRepo, removeDir, runOnTerminal, tempDir } from "../helpers/cli.ts";
import { dbEvents, dbRunIds, editTurn, readTurn } from "./support.ts";

const REASON = "Put small helpers like pad in src/util.js, not inline in the function.";
const DRAFT = "Put small helper functions in src/util.js, not inline.";
const EDITED = "Keep small helper functions in src/util.js.";

/**
 * The terminal path: the person denies a call with a reason at the inline approval prompt; when the run
 * ends, the lesson drafted from that denial is offered right there, edited, and saved.
 */
describe("lessons at the end of a terminal run (pseudo-terminal)", () => {
  let home: string;
  let repo: string;
  let server: Awaited<ReturnType<typeof startFakeModelServer>>;
  let result: { code: number | null; transcript: string };

  const turns: FakeTurn[] = [
    readTurn,
    editTurn,
    {
      name: "after-denial",
      expectMessageContains: [`The user denied this edit_file call. Reason: ${REASON}`],
      toolCalls: [{ name: "finish", arguments: { status: "done", summary: "Stopped.", files_changed: [] } }],
    },
    { name: "draft", expectMessageContains: ["a denied tool call", REASON, "edit_file"], text: DRAFT },
  ];

  before(async () => {
    home = tempDir("home");
    repo = makeSampleRepo();
    server = await startFakeModelServer({ scenario: { name: "lessons-tty", turns } });
    result = await runOnTerminal(
      [
        "run",
        "Fix the date bug",
        "--repo",
        repo,
        ...fakeModelFlags(server),
        "--mode",
        "single",
        "--sandbox",
        "subprocess",
        "--approval",
        "ask-all",
        "--no-server",
      ],
      [
        ["allow edit_file", "n"],
        ["reason for the agent", REASON],
        ["keep this lesson\\?", "e"],
        ["lesson text:", EDITED],
      ],
      cliEnv(home),
    );
  });

  after(async () => {
    await server.close();
    removeDir(home);
    removeDir(repo);
  });

  it("asks about the lesson drafted from the denial, and saves the person's edit", () => {
    assert.equal(result.code, 0, result.transcript);
    assert.match(result.transcript, /Lessons from your corrections in this run/);
    assert.ok(result.transcript.includes(DRAFT), result.transcript);
    assert.match(result.transcript, /from your denial "Put small helpers/);
    assert.match(result.transcript, /saved to .*memory\.md as l_[0-9a-z]{4}/);
    const memory = readFileSync(join(repo, ".entourage", "memory.md"), "utf8");
    const [runId] = dbRunIds(home);
    const log = dbEvents(home, runId!);
    const denial = log.find((e) => e.type === "approval.resolved")!;
    const proposed = log.find((e) => e.type === "lesson.proposed")!;
    assert.equal(proposed.data.sourceSeq, denial.seq);
    assert.match(
      memory,
      new RegExp(`- ${EDITED} <!-- id: ${proposed.data.lessonId} · ${runId} #${denial.seq} -->`),
    );
    assert.ok(!memory.includes(DRAFT));
    assert.deepEqual(log.find((e) => e.type === "lesson.decided")?.data, {
      lessonId: proposed.data.lessonId,
      decision: "edited",
      by: "cli",
      text: EDITED,
    });
    assert.deepEqual(server.failures, []);
    assert.equal(server.remainingTurns(), 0);
  });
});
