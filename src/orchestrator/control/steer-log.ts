/**
 * Steering a run that another process drives, through the run's own log: the process that receives a
 * person's act (a server, on any machine) appends `steer.requested`; the driver, which follows its run's
 * log, does it through its `RunControl` and appends `steer.handled`. The receiver waits for that answer,
 * so first-answer-wins and every refusal (approval already answered, run ended) reach the person as
 * they would on the driver itself. The log is the only channel, so every client sees the same thing.
 */
import { EntourageError, type EventData, errorMessage, type IdGenerator } from "../../core/index.ts";
import type { EventStore } from "../../store/index.ts";
import type { RunControl } from "./run-control.ts";

export type SteerAct = EventData<"steer.requested">["act"];
type Handled = EventData<"steer.handled">;

/** How long a receiver waits for the driver's answer by default. */
export const STEER_TIMEOUT_MS = 15_000;

/**
 * The driver's side: acts on every `steer.requested` appended to the run from now on, in log order, and
 * answers each. Returns the function that stops following.
 */
export function followSteering(store: EventStore, control: RunControl): () => void {
  let chain = Promise.resolve();
  const unsubscribe = store.subscribe(control.runId, (event) => {
    if (event.type !== "steer.requested") return;
    chain = chain.then(async () => {
      await control.attached;
      const data = event.data;
      const answer = (handled: Omit<Handled, "requestId">) =>
        control.acknowledge({ requestId: data.requestId, ...handled });
      // A cancel ends the run's writes soon after: answer first, then act.
      if (data.act.kind === "cancel") {
        await answer({ ok: true });
        control.cancel(data.by, data.act.reason);
        return;
      }
      await answer(await perform(control, data.act, data.by));
    });
    chain = chain.catch(() => {}); // the run ended under us: nothing left to answer on
  });
  return unsubscribe;
}

async function perform(control: RunControl, act: SteerAct, by: string): Promise<Omit<Handled, "requestId">> {
  try {
    switch (act.kind) {
      case "answer":
        control.answer(act.approvalId, {
          decision: act.decision,
          by,
          reason: act.reason,
          editedArgs: act.editedArgs,
          rule: act.rule,
        });
        return { ok: true };
      case "intervene":
        return { ok: true, interventionId: await control.intervene({ ...act, by }) };
      case "pause":
        await control.pause(by, act.reason);
        return { ok: true };
      case "resume":
        await control.resume(by);
        return { ok: true };
      case "cancel":
        control.cancel(by, act.reason);
        return { ok: true };
    }
  } catch (error) {
    const code = EntourageError.isInstance(error) ? error.code : "steer_failed";
    return { ok: false, error: { code, message: errorMessage(error) } };
  }
}

/**
 * The receiver's side: delivers `act` to the run's driver and waits for its answer. Resolves with what
 * the act produced; throws the driver's refusal as the same error it would have thrown locally, or
 * `driver_unresponsive` when no answer comes in time (the driver may have died: the run is then resumed
 * elsewhere, and the act can be sent again).
 */
export async function requestSteer(
  store: EventStore,
  runId: string,
  act: SteerAct,
  options: { by: string; ids: IdGenerator; timeoutMs?: number },
): Promise<{ interventionId?: string }> {
  const requestId = options.ids("req");
  const timeoutMs = options.timeoutMs ?? STEER_TIMEOUT_MS;
  let unsubscribe = () => {};
  const handled = new Promise<Handled>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new EntourageError(
          "driver_unresponsive",
          `The process driving run ${runId} did not answer within ${Math.round(timeoutMs / 1000)} s; nothing was done. ` +
            "It may have stopped: the run is then resumed (by a worker, or with `entourage resume`), and you can try again.",
        ),
      );
    }, timeoutMs);
    // Subscribed before the append: the answer cannot slip between the two.
    unsubscribe = store.subscribe(runId, (event) => {
      if (event.type === "steer.handled" && event.data.requestId === requestId) {
        clearTimeout(timer);
        resolve(event.data);
      }
    });
  });
  try {
    await store.append(runId, [{ type: "steer.requested", data: { requestId, by: options.by, act } }]);
    const answer = await handled;
    if (!answer.ok)
      throw new EntourageError(answer.error?.code ?? "steer_failed", answer.error?.message ?? "refused");
    return { interventionId: answer.interventionId };
  } finally {
    unsubscribe();
  }
}
