// Independent OPC UA server (node-opcua) for edge tests and benchmarks, loopback only.
// N Double variables ns=1;s=sig-<i> (i = 0..N-1); every T ms, tick k (0, 1, 2, ...) writes
// value = i * 1000 + k with source timestamp base + k * T ms (data time, exact to the ms), so a
// client can check every value, its order and its timestamp. Minimum sampling and publishing
// intervals are lowered so a fast client can take everything the server produces.
// With a fifth argument "user:password" the server refuses anonymous sessions and every other
// user name or password (UserNameIdentityToken; node-opcua encrypts it even on a None channel).
// Usage: node server.js <port> <N> <T ms> [<ticks per timer callback, default 1>] [user:password]
// Prints "EGIZ-READY {json}" on stdout once listening.
"use strict";
const { OPCUAServer, MonitoredItem, Subscription } = require("node-opcua-server");
const { Variant, DataType } = require("node-opcua-variant");
const { StatusCodes } = require("node-opcua-status-code");

async function main() {
  const port = Number(process.argv[2]);
  const n = Number(process.argv[3]);
  const period = Number(process.argv[4]);
  const burst = Number(process.argv[5] || 1);
  const credentials = process.argv[6] || "";
  const [user, password] = credentials ? [credentials.split(":")[0], credentials.split(":").slice(1).join(":")] : [];
  // Defaults are 50 ms sampling and 50 ms publishing: far too slow for a rate benchmark.
  MonitoredItem.minimumSamplingInterval = 0;
  Subscription.minimumPublishingInterval = 5;
  // node-opcua caps a publish response at 1,000 notifications; one in-flight publish request
  // (asyncua) then gets at most 1,000 per round trip.
  Subscription.maxNotificationPerPublishHighLimit = 100000;
  const server = new OPCUAServer({
    port,
    host: "127.0.0.1",
    hostname: "127.0.0.1",
    resourcePath: "/egiz",
    allowAnonymous: !credentials,
    userManager: credentials
      ? { isValidUser: (name, pass) => name === user && pass === password }
      : undefined,
    // With credentials, Basic256Sha256 is offered too: node-opcua then lists a user-name token
    // policy on the None endpoint whose password is encrypted with the server certificate.
    securityPolicies: credentials
      ? ["http://opcfoundation.org/UA/SecurityPolicy#None",
        "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"]
      : ["http://opcfoundation.org/UA/SecurityPolicy#None"],
    securityModes: credentials ? [1, 3] : [1], // MessageSecurityMode None (and SignAndEncrypt)
    serverCapabilities: {
      minSupportedSampleRate: 0,
      maxMonitoredItemsQueueSize: 100000,
      maxMonitoredItemsPerSubscription: 100000,
      maxMonitoredItems: 1000000,
      operationLimits: { maxNodesPerRead: 100000, maxMonitoredItemsPerCall: 100000 },
    },
    maxConnectionsPerEndpoint: 20,
  });
  await server.initialize();
  const ns = server.engine.addressSpace.getOwnNamespace();
  const folder = ns.addFolder("ObjectsFolder", { browseName: "Egiz" });
  const vars = [];
  for (let i = 0; i < n; i++) {
    vars.push(ns.addVariable({
      componentOf: folder,
      nodeId: `s=sig-${i}`,
      browseName: `sig-${i}`,
      dataType: "Double",
      minimumSamplingInterval: 0, // exception-based: every write is reported
    }));
  }
  const base = Math.ceil(Date.now() / 1000) * 1000;
  let tick = 0;
  const write = () => {
    const ts = new Date(base + tick * period);
    for (let i = 0; i < n; i++) {
      vars[i].setValueFromSource(
        new Variant({ dataType: DataType.Double, value: i * 1000 + tick }), StatusCodes.Good, ts,
      );
    }
    tick += 1;
  };
  write(); // tick 0 is there before anyone connects
  await server.start();
  const timer = setInterval(() => { for (let b = 0; b < burst; b++) write(); }, period * burst);
  const endpoint = `opc.tcp://127.0.0.1:${port}/egiz`;
  process.stdout.write(`EGIZ-READY ${JSON.stringify({ endpoint, n, period, base })}\n`);
  const stop = async () => {
    clearInterval(timer);
    await server.shutdown(0);
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => { console.error(err); process.exit(1); });
