import { writeFileSync } from "node:fs";
import { it } from "vitest";
import { startCliFixture, runRegdav } from "./cli-fixture.js";

it("scratch", async () => {
  const f = await startCliFixture();
  const h = f.host;
  const cmds: string[][] = [
    ["find", `${h}/team/app/_tags/v1/rootfs/etc`, "-name", "os-release"],
    ["find", `${h}/team/app/_tags/v1/rootfs/etc`],
    ["cat", `${h}/legacy/app/_tags/old/manifest.json`],
  ];
  let out = "";
  for (const c of cmds) {
    const r = await runRegdav([...c, ...f.treeArgs]);
    out += `$ regdav ${c.join(" ")}\n${r.stdout.toString()}${r.stderr}[exit ${r.code}]\n\n`;
  }
  out += f.legacy.signed.toString();
  writeFileSync("/tmp/regdav-scratch/out.txt", out);
  await f.stop();
}, 300_000);
