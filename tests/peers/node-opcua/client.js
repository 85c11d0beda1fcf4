// Independent OPC UA client: browses the Egiz simulator, reads values with units and ranges,
// subscribes, calls Start/Stop. Prints one JSON document on stdout; exits non-zero on error.
// Usage: node client.js opc.tcp://127.0.0.1:4840/egiz/ <site> <area> [<line>] <asset>
"use strict";
const {
  OPCUAClient, AttributeIds, BrowseDirection, TimestampsToReturn, MessageSecurityMode,
  SecurityPolicy, ClientSubscription, ClientMonitoredItem, DataType, StatusCodes,
} = require("node-opcua-client");

async function main() {
  const [endpoint, ...path] = process.argv.slice(2);
  const asset = path[path.length - 1];
  const site = path[0];
  const out = { browse: [], signals: {}, notifications: [], methods: {} };
  const client = OPCUAClient.create({
    endpointMustExist: false,
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    connectionStrategy: { maxRetry: 3, initialDelay: 200, maxDelay: 1000 },
  });
  await client.connect(endpoint);
  const session = await client.createSession();
  try {
    // Browse from Objects down the ISA-95 path by browse names.
    let node = "ObjectsFolder";
    for (const name of path) {
      const res = await session.browse({ nodeId: node, browseDirection: BrowseDirection.Forward, resultMask: 63 });
      const child = res.references.find((r) => r.browseName.name === name);
      if (!child) throw new Error(`browse: no child ${name} under ${node}`);
      out.browse.push({ name, nodeId: child.nodeId.toString() });
      node = child.nodeId;
    }
    const children = await session.browse({ nodeId: node, browseDirection: BrowseDirection.Forward, resultMask: 63 });
    for (const ref of children.references) {
      if (ref.nodeClass !== 2) continue; // variables only
      const name = ref.browseName.name;
      const props = await session.browse({ nodeId: ref.nodeId, browseDirection: BrowseDirection.Forward, resultMask: 63 });
      const prop = (n) => props.references.find((r) => r.browseName.name === n);
      const reads = await session.read([
        { nodeId: ref.nodeId, attributeId: AttributeIds.Value },
        { nodeId: ref.nodeId, attributeId: AttributeIds.DisplayName },
        { nodeId: ref.nodeId, attributeId: AttributeIds.Description },
        { nodeId: prop("EngineeringUnits").nodeId, attributeId: AttributeIds.Value },
        { nodeId: prop("EURange").nodeId, attributeId: AttributeIds.Value },
      ]);
      const eu = reads[3].value.value;
      const range = reads[4].value.value;
      out.signals[name] = {
        nodeId: ref.nodeId.toString(),
        value: reads[0].value.value,
        status: reads[0].statusCode.name,
        sourceTimestamp: reads[0].sourceTimestamp && reads[0].sourceTimestamp.toISOString(),
        displayName: reads[1].value.value.text,
        description: reads[2].value.value.text,
        unit: eu.displayName.text,
        unitId: eu.unitId,
        range: [range.low, range.high],
      };
    }
    // Subscribe to the flow-like first signal and collect a few notifications.
    const sub = ClientSubscription.create(session, {
      requestedPublishingInterval: 100, requestedMaxKeepAliveCount: 20, requestedLifetimeCount: 100,
      maxNotificationsPerPublish: 100, publishingEnabled: true, priority: 1,
    });
    const watched = out.signals[process.env.EGIZ_WATCH || Object.keys(out.signals)[0]].nodeId;
    const item = ClientMonitoredItem.create(sub, { nodeId: watched, attributeId: AttributeIds.Value },
      { samplingInterval: 0, discardOldest: true, queueSize: 100 }, TimestampsToReturn.Both);
    item.on("changed", (dv) => out.notifications.push({
      value: dv.value.value, sourceTimestamp: dv.sourceTimestamp.toISOString(), status: dv.statusCode.name,
    }));
    await new Promise((r) => setTimeout(r, 2500));
    // Methods: Stop, read running, Start, read running.
    const running = out.signals.running.nodeId;
    const objectId = out.browse[out.browse.length - 1].nodeId;
    for (const m of ["Stop", "Start"]) {
      const res = await session.call({ objectId, methodId: `ns=2;s=${site}.${asset}.${m}`, inputArguments: [] });
      await new Promise((r) => setTimeout(r, 1500));
      const dv = await session.read({ nodeId: running, attributeId: AttributeIds.Value });
      out.methods[m] = { status: res.statusCode.name, runningAfter: dv.value.value };
    }
    await sub.terminate();
  } finally {
    await session.close();
    await client.disconnect();
  }
  // node-opcua may log to stdout: mark the result line.
  process.stdout.write("\nEGIZ-RESULT " + JSON.stringify(out) + "\n");
}

main().catch((err) => { console.error(String(err && err.stack || err)); process.exit(1); });
