import { expect } from "chai";
import { startPeriodic } from "../../../services/platform/periodic";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("startPeriodic: background rounds", () => {
  it("runs rounds one after another, goes on after a failed round, and stop waits for the round in progress", async () => {
    const events: string[] = [];
    const errors: unknown[] = [];
    let round = 0;
    let inProgress = 0;
    const periodic = startPeriodic({
      intervalMs: 5,
      onError: (error) => errors.push(error),
      round: async () => {
        round++;
        inProgress++;
        expect(inProgress).to.equal(1);
        events.push(`start ${round}`);
        await sleep(10);
        events.push(`end ${round}`);
        inProgress--;
        if (round === 2) throw new Error("round 2 failed");
      },
    });
    while (round < 4) await sleep(5);
    await periodic.stop();
    const rounds = round;
    expect(events.at(-1)).to.equal(`end ${rounds}`); // stop waited for it
    expect(errors.map((e) => (e as Error).message)).to.deep.equal(["round 2 failed"]);
    expect(periodic.stopped()).to.equal(true);
    await sleep(30);
    expect(round).to.equal(rounds); // no round after stop
  });
});
