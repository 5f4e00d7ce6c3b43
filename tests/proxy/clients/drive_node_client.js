// Every call of the npm package toxiproxy-node-client, with its default arguments, against the
// server at argv[2], proxying to the echo server at argv[3]. Prints one JSON line of what it saw;
// exits 1 with the failing step on the first error.
const { Toxiproxy } = require("toxiproxy-node-client");
const net = require("net");

const [apiUrl, upstream] = process.argv.slice(2);
const seen = {};
let step = "start";

function echoThrough(listen, payload) {
  const port = Number(listen.split(":").pop());
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(payload));
    let got = "";
    socket.setTimeout(5000, () => reject(new Error(`no echo through ${listen}`)));
    socket.on("data", (data) => {
      got += data.toString();
      if (got.length >= payload.length) {
        socket.end();
        resolve(got);
      }
    });
    socket.on("error", reject);
  });
}

async function main() {
  const toxiproxy = new Toxiproxy(apiUrl);
  step = "getVersion";
  seen.version = await toxiproxy.getVersion();
  step = "createProxy";
  const proxy = await toxiproxy.createProxy({ name: "node", listen: "127.0.0.1:0", upstream });
  seen.created = proxy.toJson();
  seen.echo = await echoThrough(proxy.listen, "hello");
  step = "getAll";
  seen.all = Object.keys(await toxiproxy.getAll());
  step = "get";
  seen.got = (await toxiproxy.get("node")).toJson();
  step = "update";
  seen.disabled = (await proxy.update({ enabled: false, listen: proxy.listen, upstream })).enabled;
  seen.enabled = (await proxy.update({ enabled: true, listen: proxy.listen, upstream })).enabled;
  const toxics = [
    ["latency", { latency: 10, jitter: 1 }],
    ["bandwidth", { rate: 1000 }],
    ["slow_close", { delay: 10 }],
    ["timeout", { timeout: 0 }],
    ["slicer", { average_size: 10, size_variation: 10, delay: 0 }],
    ["limit_data", { bytes: 100000 }],
    ["reset_peer", { timeout: 0 }],
  ];
  seen.toxics = {};
  for (const [type, attributes] of toxics) {
    step = `addToxic ${type}`;
    const toxic = await proxy.addToxic({ name: type, type, stream: "upstream", toxicity: 0, attributes });
    step = `getToxic ${type}`;
    const fetched = await proxy.getToxic(type);
    step = `update toxic ${type}`;
    const updated = await fetched.update({ ...fetched.toJson(), toxicity: 0.5 });
    seen.toxics[type] = { created: toxic.toJson(), updated: updated.toJson() };
    step = `remove toxic ${type}`;
    await updated.remove();
  }
  step = "addToxic without attributes";
  seen.bare = (await proxy.addToxic({ name: "bare", type: "latency", stream: "downstream", toxicity: 1 })).toJson();
  step = "slicer with equal sizes carries data";
  await (await proxy.getToxic("bare")).remove();
  await proxy.addToxic({
    name: "slices", type: "slicer", stream: "downstream", toxicity: 1,
    attributes: { average_size: 2, size_variation: 2, delay: 10 },
  });
  seen.sliced = await echoThrough(proxy.listen, "sliced through");
  step = "populate";
  seen.populated = Object.keys(await toxiproxy.populate([{ name: "node2", listen: "127.0.0.1:0", upstream }]));
  step = "reset";
  await toxiproxy.reset();
  seen.afterReset = await proxy.getToxic("slices").then(() => "still there", (error) => error.message);
  step = "remove";
  await proxy.remove();
  await (await toxiproxy.get("node2")).remove();
  seen.left = Object.keys(await toxiproxy.getAll());
  console.log(JSON.stringify(seen));
}

main().catch((error) => {
  console.error(`${step}: ${error && error.message ? error.message : error}`);
  process.exit(1);
});
