/**
 * The README's "Open them in Jupyter" route, followed for real: Jupyter's notebook server started headless with the
 * kit's committed kernelspec (`JUPYTER_PATH=jupyter/`), a session with the Deno kernel created through the server's
 * REST API, and a cell executed over the kernel's websocket, as the browser front end does it. The cell imports kit
 * modules (relative to `notebooks/`, and `zod` through deno.json) and reads `SF2_NB_PARAMS` set in the shell that
 * started the server, so the kernel's working folder, import map and environment are the ones the notebooks rely on.
 * Ignored, saying so, where the server is not installed (Debian: `jupyter-notebook`; pip: `notebook`).
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { g } from "../../lib/losses/sphereface2.ts";
import { REPO_ROOT } from "../../lib/fs/paths.ts";
import { DEFAULT_PYTHON, JUPYTER_DIR, KERNEL_NAME } from "../../lib/notebook/runner.ts";
import { PARAMS_ENV } from "../../lib/notebook/params.ts";

const PYTHON = Deno.env.get("SF2_PYTHON") ?? DEFAULT_PYTHON;

/** Whether `PYTHON -m notebook` can run (Debian's jupyter-notebook 6.x or pip's notebook 7.x). */
async function hasNotebookServer(): Promise<boolean> {
  try {
    return (await new Deno.Command(PYTHON, { args: ["-c", "import notebook"], stdout: "null", stderr: "null" })
      .output()).success;
  } catch {
    return false; // no such python
  }
}
const HAS_SERVER = await hasNotebookServer();

/** Resolves with `promise`, or rejects after `ms` with `what` in the message. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A kernel message as the server's websocket carries it (JSON text frames). */
interface KernelMessage {
  msg_type: string;
  parent_header: { msg_id?: string };
  content: Record<string, unknown>;
}

Deno.test({
  name: "jupyter server: the committed kernelspec starts the Deno kernel; a cell importing lib/ runs through REST + " +
    "websocket" + (HAS_SERVER ? "" : ` [skipped: needs Jupyter's notebook server: ${PYTHON} -m notebook failed ` +
      "(apt-get install jupyter-notebook, or pip install notebook and set SF2_PYTHON)]"),
  ignore: !HAS_SERVER,
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "sf2-jupyter-" });
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const token = crypto.randomUUID();
    const base = `http://127.0.0.1:${port}`;
    const headers = { Authorization: `token ${token}`, "Content-Type": "application/json" };
    // The README's `JUPYTER_PATH=$PWD/jupyter jupyter notebook notebooks/`, headless (root needs --allow-root).
    const server = new Deno.Command(PYTHON, {
      args: [
        "-m",
        "notebook",
        "--no-browser",
        "--ip=127.0.0.1",
        `--port=${port}`,
        "--port-retries=0",
        ...(Deno.uid() === 0 ? ["--allow-root"] : []),
        join(REPO_ROOT, "notebooks"),
      ],
      env: {
        JUPYTER_PATH: JUPYTER_DIR,
        JUPYTER_TOKEN: token,
        // Keep the user's Jupyter runtime and config folders untouched.
        JUPYTER_RUNTIME_DIR: join(work, "runtime"),
        JUPYTER_CONFIG_DIR: join(work, "config"),
        [PARAMS_ENV]: '{"t": 3}',
      },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let log = "";
    const logDone = server.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void (log += chunk) }),
    );
    let exited = false;
    const status = server.status.then((s) => (exited = true, s));
    let ws: WebSocket | undefined;
    try {
      // Up when the REST API answers (a few seconds: Python imports).
      await within(
        30_000,
        "notebook server start",
        (async () => {
          for (;;) {
            if (exited) throw new Error(`the notebook server exited:\n${log}`);
            try {
              const res = await fetch(`${base}/api/status`, { headers });
              await res.body?.cancel();
              if (res.ok) return;
            } catch { /* not listening yet */ }
            await new Promise((r) => setTimeout(r, 200));
          }
        })(),
      );

      const specs = await (await fetch(`${base}/api/kernelspecs`, { headers })).json();
      assert.equal(specs.kernelspecs[KERNEL_NAME]?.spec.display_name, "Deno (SphereFace2 kit)", JSON.stringify(specs));

      const created = await fetch(`${base}/api/sessions`, {
        method: "POST",
        headers,
        body: JSON.stringify({
          path: "jupyter_server_test.ipynb",
          type: "notebook",
          name: "",
          kernel: { name: "deno" },
        }),
      });
      const session = await created.json();
      assert.equal(created.status, 201, JSON.stringify(session));
      assert.equal(session.kernel.name, KERNEL_NAME);

      const sessionId = crypto.randomUUID();
      ws = new WebSocket(
        `ws://127.0.0.1:${port}/api/kernels/${session.kernel.id}/channels?session_id=${sessionId}&token=${token}`,
      );
      const socket = ws;
      const replies: KernelMessage[] = [];
      let onMessage = () => {};
      socket.onmessage = (e) => {
        if (typeof e.data !== "string") return; // binary frames carry buffers, which this cell does not make
        replies.push(JSON.parse(e.data));
        onMessage();
      };
      await within(
        10_000,
        "kernel websocket",
        new Promise((resolve, reject) => {
          socket.onopen = resolve;
          socket.onerror = (e) => reject(new Error(`kernel websocket: ${(e as ErrorEvent).message}`));
        }),
      );

      const code = [
        'import { z } from "zod";',
        'import { notebookParams } from "../lib/notebook/params.ts";',
        'import { g } from "../lib/losses/sphereface2.ts";',
        "const params = notebookParams(z.object({ t: z.number().default(1) }));",
        "console.log(`g(0.5, t=${params.t}) = ${g(0.5, params.t)}`);",
      ].join("\n");
      const msgId = crypto.randomUUID();
      socket.send(JSON.stringify({
        header: {
          msg_id: msgId,
          session: sessionId,
          username: "test",
          msg_type: "execute_request",
          version: "5.3",
          date: new Date().toISOString(),
        },
        parent_header: {},
        metadata: {},
        channel: "shell",
        buffers: [],
        content: { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false },
      }));
      // Done when the kernel has replied and gone idle for this request (the first cell loads the imports,
      // TensorFlow.js among them: seconds, more on a busy machine).
      const mine = () => replies.filter((m) => m.parent_header?.msg_id === msgId);
      await within(
        60_000,
        "execute_request",
        new Promise<void>((resolve) => {
          onMessage = () => {
            const got = mine();
            if (
              got.some((m) => m.msg_type === "execute_reply") &&
              got.some((m) => m.msg_type === "status" && m.content.execution_state === "idle")
            ) resolve();
          };
          onMessage();
        }),
      );
      const got = mine();
      const reply = got.find((m) => m.msg_type === "execute_reply")!;
      const errors = got.filter((m) => m.msg_type === "error").map((m) => `${m.content.ename}: ${m.content.evalue}`);
      assert.equal(reply.content.status, "ok", errors.join("\n"));
      const stdout = got.filter((m) => m.msg_type === "stream" && m.content.name === "stdout")
        .map((m) => m.content.text).join("");
      assert.equal(stdout.trim(), `g(0.5, t=3) = ${g(0.5, 3)}`);

      socket.close();
      // Deleting the session shuts its kernel down.
      const deleted = await fetch(`${base}/api/sessions/${session.id}`, { method: "DELETE", headers });
      await deleted.body?.cancel();
      assert.equal(deleted.status, 204);
      assert.deepEqual(await (await fetch(`${base}/api/kernels`, { headers })).json(), []);
    } finally {
      ws?.close();
      if (!exited) server.kill("SIGTERM");
      // Notebook 6 asks for confirmation on SIGINT, not on SIGTERM; a second kill if it hangs.
      const timer = setTimeout(() => !exited && server.kill("SIGKILL"), 10_000);
      await status;
      clearTimeout(timer);
      await logDone;
      await Deno.remove(work, { recursive: true });
    }
  },
});
