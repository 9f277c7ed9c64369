import { expect } from "expect";
import {
  Coordinator,
  type Message,
  payloadBytes,
  type Port,
  PortChannel,
  transferList,
} from "../../lib/parallel/transport.ts";

Deno.test("transferList copies views so that exactly the counted bytes move", () => {
  const big = new Float32Array(100);
  const view = big.subarray(10, 14);
  const own = new Int32Array(3);
  const m: Message = { op: "x", data: { view, own } };
  const list = transferList(m);
  expect(list.length).toBe(2);
  expect(m.data.view).not.toBe(view);
  expect(m.data.view.buffer.byteLength).toBe(16);
  expect(m.data.own).toBe(own);
  expect(payloadBytes(m)).toBe(16 + 12);
});

/** An echo shard on a MessageChannel: replies to op "ping" with its payload under op "pong", or an error. */
function echoShard(): { port: Port; close: () => void } {
  const { port1, port2 } = new MessageChannel();
  port2.onmessage = (e: MessageEvent) => {
    const m = e.data as Message;
    const reply: Message = m.op === "ping"
      ? { op: "pong", data: m.data }
      : { op: "error", data: {}, meta: { message: "boom" } };
    port2.postMessage(reply, transferList(reply));
  };
  port1.start();
  return {
    port: port1 as unknown as Port,
    close: () => {
      port1.close();
      port2.close();
    },
  };
}

Deno.test("Coordinator counts bytes both ways and one round per gather; buffers are transferred", async () => {
  const shards = [echoShard(), echoShard(), echoShard()];
  const channels = shards.map((s) => new PortChannel(s.port));
  try {
    const hub = new Coordinator(channels);
    const x = new Float32Array(5);
    hub.broadcast({ op: "ping", data: { x, y: new Int32Array(2) } });
    expect(x.byteLength).toBe(0); // the original went to the last shard, detached here
    const replies = await hub.gather("pong");
    expect(replies.map((r) => r.data.x.length)).toEqual([5, 5, 5]);
    expect(hub.counter.snapshot()).toEqual({ bytesDown: 3 * 28, bytesUp: 3 * 28, rounds: 1, messages: 6 });
    hub.send(1, { op: "ping", data: {} });
    await channels[1].receive();
    expect(hub.counter.snapshot().rounds).toBe(1);
    hub.counter.reset();
    expect(hub.counter.snapshot()).toEqual({ bytesDown: 0, bytesUp: 0, rounds: 0, messages: 0 });
    hub.send(0, { op: "bad", data: {} });
    await expect(channels[0].receive()).rejects.toThrow("boom");
  } finally {
    channels.forEach((c) => c.close());
    shards.forEach((s) => s.close());
  }
});
