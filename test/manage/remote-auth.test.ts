/** `ls` and `inspect` of a registry that asks for credentials take them as fetch does. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { runOciImage } from "../helpers/cli.js";
import { pushImage, startRegistry } from "../helpers/registry.js";
import { tempDir } from "../helpers/temp.js";
import { requireTool } from "../helpers/tools.js";
import { writeMixedLayoutApart } from "./layouts.js";

for (const auth of ["htpasswd", "token"] as const) {
  test(`ls and inspect with ${auth} auth: -u and --password-stdin, and without them`, async (t) => {
    if (!requireTool(t, "skopeo")) return;
    const layout = join(await tempDir(t), "layout");
    await writeMixedLayoutApart(layout);
    const registry = await startRegistry({ auth });
    t.after(() => registry.stop());
    const creds = `${registry.username}:${registry.password}`;
    await pushImage(`oci:${layout}:plain`, registry, "private/app:1", { creds });
    await pushImage(`oci:${layout}:other`, registry, "private/app:2", { creds });
    const login = ["-u", registry.username!, "--password-stdin"];
    const input = `${registry.password}\n`;
    const listed = await runOciImage(["ls", ...login, `${registry.host}/private/app`], { input });
    assert.equal(listed.status, 0, listed.stderr);
    assert.deepEqual(listed.stdout.trim().split("\n").sort(), ["1", "2"]);
    const inspected = await runOciImage(["inspect", "--json", ...login, `${registry.host}/private/app:2`], { input });
    assert.equal(inspected.status, 0, inspected.stderr);
    assert.equal(JSON.parse(inspected.stdout).created, "2024-03-02T10:00:00Z");
    const empty = await tempDir(t);
    const anonymous = await runOciImage(["ls", `${registry.host}/private/app`], {
      env: { HOME: empty, DOCKER_CONFIG: empty, REGISTRY_AUTH_FILE: join(empty, "none.json") },
    });
    if (auth === "token") {
      // The token server gives anyone a pull token: listing needs no credentials there.
      assert.equal(anonymous.status, 0, anonymous.stderr);
      return;
    }
    assert.equal(anonymous.status, 1, anonymous.stderr);
    assert.match(anonymous.stderr, /log in \(docker login\) or pass -u and --password-stdin/);
  });
}
