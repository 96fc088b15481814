import { it } from "vitest";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { startRegdav } from "../../harness/regdav-process.js";
import { fetchOutcome, describeOutcome } from "../fault-fixtures.js";

it("connect timeout", async () => {
  const script = `const s=require("net").createServer();s.listen({port:0,host:"127.0.0.1",backlog:1},()=>{console.log(s.address().port);setTimeout(()=>Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,120000),50)})`;
  const py = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve) => py.stdout.once("data", (d) => resolve(Number(String(d).trim()))));
  await new Promise((r) => setTimeout(r, 200));
  const fillers = [];
  for (let i = 0; i < 4; i++) {
    const s = connect(port, "127.0.0.1"); s.on("error", () => {});
    fillers.push(s);
    await new Promise((r) => setTimeout(r, 100));
  }
  const states = fillers.map((s) => s.readyState);
  console.log("fillers", states);
  const regdav = await startRegdav(["--registry", `127.0.0.1:${port}`], { env: { REGDAV_CONNECT_TIMEOUT_MS: "1000" } });
  const t = Date.now();
  const o = await fetchOutcome(`${regdav.url}127.0.0.1%3A${port}/x/_tags/`);
  console.log(describeOutcome(o), Date.now() - t);
  console.log(regdav.output());
  await regdav.stop(); py.kill(); for (const s of fillers) s.destroy();
});
