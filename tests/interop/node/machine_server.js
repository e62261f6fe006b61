// A machine builder's OPC UA server, written with node-opcua (another stack than plantwin's asyncua).
//
// Its address space is laid out as an OPC 40001-1 (Machinery) server would be, not as plantwin's
// virtual plant: Objects/Machines/<machine>/{Identification, MachineryItemState, PackML, Monitoring},
// numeric node ids chosen by the server (so a client must map by browse path), PackML-like counters
// Admin/ProdProcessedCount/AccCount and Admin/ProdDefectiveCount/AccCount, one process value with a
// string node id in a second (vendor) namespace, and a job response provider
// Objects/JobManagement with JobOrderResponseList and RequestJobResponseByJobOrderID /
// RequestJobResponseByJobOrderIDAndState (OPC 10031-4, job responses as JSON text).
//
// Every machine makes a part every --cycle-ms while the file --go exists, until it has made --parts
// parts; every --defect-every-th part is defective. With --state FILE the counters are retentive
// (saved before they are published, as a PLC keeps retentive memory): a restarted server goes on
// counting from where it stopped. It prints "READY <port>" once it listens.
//
// Usage: node machine_server.js --port P [--state F] [--go F] [--parts N] [--cycle-ms MS]
//        [--defect-every K] [--pki DIR --user NAME:PASSWORD]
"use strict";

const fs = require("fs");
const path = require("path");
const { OPCUAServer } = require("node-opcua-server");
const { Variant, DataType, VariantArrayType } = require("node-opcua-variant");
const { StatusCodes } = require("node-opcua-status-code");
const { nodesets } = require("node-opcua-nodesets");
const { SecurityPolicy, MessageSecurityMode } = require("node-opcua-secure-channel");
const { OPCUACertificateManager } = require("node-opcua-certificate-manager");

const NS_MACHINES = "http://acme-machines.example/UA/";
const NS_VENDOR = "http://acme-machines.example/UA/Vendor/";
const MACHINES = [
  // station / operation: the plant's names for this machine and the job it works (an MES would
  // hold that mapping; here the machine's job order response carries them)
  { name: "Press7", model: "HP-400", serial: "P7-2019-0042", job: "SO-1/0", order: "SO-1", station: "press", operation: "press" },
  { name: "Lathe3", model: "CL-22", serial: "L3-2021-0107", job: "SO-1/1", order: "SO-1", station: "lathe", operation: "turn" },
];

function args(argv) {
  const out = { port: 4840, parts: 50, cycleMs: 50, defectEvery: 7 };
  for (let i = 2; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (key === "--port") out.port = Number(value);
    else if (key === "--state") out.state = value;
    else if (key === "--go") out.go = value;
    else if (key === "--parts") out.parts = Number(value);
    else if (key === "--cycle-ms") out.cycleMs = Number(value);
    else if (key === "--defect-every") out.defectEvery = Number(value);
    else if (key === "--pki") out.pki = value;
    else if (key === "--user") out.user = value;
    else {
      console.error(`unknown option ${key}`);
      process.exit(2);
    }
  }
  return out;
}

function loadState(file) {
  if (file && fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8"));
  return { counts: {}, started: {}, ended: {} };
}

function saveState(file, state) {
  if (!file) return;
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, "w");
  fs.writeSync(fd, JSON.stringify(state));
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

async function main() {
  const opt = args(process.argv);
  const state = loadState(opt.state);
  const secured = Boolean(opt.pki);
  const config = {
    port: opt.port,
    hostname: "127.0.0.1",
    resourcePath: "",
    nodeset_filename: [nodesets.standard],
    buildInfo: { productName: "ACME machine cell", manufacturerName: "ACME Machines", softwareVersion: "1.0" },
    serverInfo: { applicationUri: "urn:acme-machines:cell", productUri: "urn:acme-machines:cell" },
  };
  if (secured) {
    const [user, password] = opt.user.split(":");
    const manager = new OPCUACertificateManager({
      rootFolder: path.join(opt.pki, "server"),
      automaticallyAcceptUnknownCertificate: true,
    });
    await manager.initialize();
    Object.assign(config, {
      serverCertificateManager: manager,
      securityPolicies: [SecurityPolicy.Basic256Sha256],
      securityModes: [MessageSecurityMode.SignAndEncrypt],
      allowAnonymous: false,
      userManager: { isValidUser: (name, pw) => name === user && pw === password },
    });
  } else {
    Object.assign(config, {
      securityPolicies: [SecurityPolicy.None],
      securityModes: [MessageSecurityMode.None],
      allowAnonymous: true,
    });
  }
  const server = new OPCUAServer(config);
  await server.initialize();
  const space = server.engine.addressSpace;
  const ns = space.registerNamespace(NS_MACHINES);
  const vendor = space.registerNamespace(NS_VENDOR);
  const objects = space.rootFolder.objects;
  const machinesFolder = ns.addFolder(objects, { browseName: "Machines" });
  const now = () => new Date();
  const live = {};

  function variable(ns_, parent, browseName, dataType, value, nodeId) {
    const v = ns_.addVariable({ componentOf: parent, browseName, dataType, nodeId });
    v.setValueFromSource(new Variant({ dataType: DataType[dataType], value }), StatusCodes.Good, now());
    return v;
  }

  for (const m of MACHINES) {
    const counts = state.counts[m.name] || [0, 0];
    const obj = ns.addObject({ organizedBy: machinesFolder, browseName: m.name });
    const ident = ns.addObject({ componentOf: obj, browseName: "Identification" });
    variable(ns, ident, "Manufacturer", "String", "ACME Machines");
    variable(ns, ident, "Model", "String", m.model);
    variable(ns, ident, "SerialNumber", "String", m.serial);
    const itemState = ns.addObject({ componentOf: obj, browseName: "MachineryItemState" });
    const packml = ns.addObject({ componentOf: obj, browseName: "PackML" });
    const status = ns.addObject({ componentOf: packml, browseName: "Status" });
    const admin = ns.addObject({ componentOf: packml, browseName: "Admin" });
    const processed = ns.addObject({ componentOf: admin, browseName: "ProdProcessedCount" });
    const defective = ns.addObject({ componentOf: admin, browseName: "ProdDefectiveCount" });
    const monitoring = ns.addObject({ componentOf: obj, browseName: "Monitoring" });
    live[m.name] = {
      spec: m,
      processed: counts[0],
      defective: counts[1],
      itemState: variable(ns, itemState, "CurrentState", "String", "NotExecuting"),
      packmlState: variable(ns, status, "StateCurrent", "String", "Idle"),
      processedVar: variable(ns, processed, "AccCount", "UInt32", counts[0]),
      defectiveVar: variable(ns, defective, "AccCount", "UInt32", counts[1]),
      goodVar: variable(ns, monitoring, "PartsGood", "UInt32", counts[0] - counts[1]),
      jobVar: variable(ns, monitoring, "OrderNumber", "String", ""),
      programVar: variable(ns, monitoring, "ProgramName", "String", ""),
      cycleVar: variable(ns, monitoring, "LastCycleTime", "Double", 0.0),
      tempVar: variable(vendor, monitoring, "SpindleTemperature", "Double", 40.0, `s=${m.name}.SpindleTemperature`),
    };
  }

  // ---- job responses (OPC 10031-4): one job order per machine, for --parts parts ----
  const jobs = ns.addObject({ organizedBy: objects, browseName: "JobManagement" });
  const iso = (t) => (t ? new Date(t).toISOString() : null);
  function response(entry) {
    const m = entry.spec;
    const done = entry.processed >= opt.parts;
    const started = state.started[m.job];
    const jobState = done ? "Ended" : started ? "Running" : "AllowedToStart";
    return {
      JobOrderID: m.job,
      JobState: jobState,
      OrderID: m.order,
      OperationIndex: Number(m.job.split("/")[1]),
      Operation: m.operation,
      EquipmentID: m.station,
      WaitingAt: null,
      Machine: 0,
      QuantityGood: entry.processed - entry.defective,
      QuantityScrapped: entry.defective,
      QuantityPlanned: opt.parts,
      StartTime: iso(started),
      EndTime: iso(state.ended[m.job]),
      MaterialConsumed: {},
    };
  }
  const responses = () => Object.values(live).map(response);
  const responseList = variable(ns, jobs, "JobOrderResponseList", "String", JSON.stringify(responses()));
  const stringArg = (name) => ({ name, dataType: DataType.String });
  const statusArg = { name: "ReturnStatus", dataType: DataType.UInt64 };
  // ReturnStatus, OPC 10031-4 annex B.2: a bit map, bit 0 no error, bit 1 unknown job order id
  const NO_ERROR = 1;
  const UNKNOWN_JOB_ORDER = 2;
  const byId = ns.addMethod(jobs, {
    browseName: "RequestJobResponseByJobOrderID",
    inputArguments: [stringArg("JobOrderID")],
    outputArguments: [stringArg("JobResponse"), statusArg],
  });
  byId.bindMethod((inputs, context, callback) => {
    const found = responses().find((r) => r.JobOrderID === inputs[0].value);
    callback(null, {
      statusCode: StatusCodes.Good,
      outputArguments: [
        new Variant({ dataType: DataType.String, value: found ? JSON.stringify(found) : "" }),
        new Variant({ dataType: DataType.UInt64, arrayType: VariantArrayType.Scalar, value: [0, found ? NO_ERROR : UNKNOWN_JOB_ORDER] }),
      ],
    });
  });
  const byIdAndState = ns.addMethod(jobs, {
    browseName: "RequestJobResponseByJobOrderIDAndState",
    inputArguments: [stringArg("JobOrderID"), { name: "JobState", dataType: DataType.String, valueRank: 1 }],
    outputArguments: [{ name: "JobResponses", dataType: DataType.String, valueRank: 1 }, statusArg],
  });
  byIdAndState.bindMethod((inputs, context, callback) => {
    const wanted = inputs[1].value || [];
    const all = responses().filter((r) => r.JobOrderID === inputs[0].value);
    const hits = all.filter((r) => wanted.length === 0 || wanted.includes(r.JobState));
    callback(null, {
      statusCode: StatusCodes.Good,
      outputArguments: [
        new Variant({ dataType: DataType.String, arrayType: VariantArrayType.Array, value: hits.map((r) => JSON.stringify(r)) }),
        new Variant({ dataType: DataType.UInt64, arrayType: VariantArrayType.Scalar, value: [0, all.length ? NO_ERROR : UNKNOWN_JOB_ORDER] }),
      ],
    });
  });

  // ---- production ----
  function publish(entry, t) {
    const u32 = (value) => new Variant({ dataType: DataType.UInt32, value });
    entry.processedVar.setValueFromSource(u32(entry.processed), StatusCodes.Good, t);
    entry.defectiveVar.setValueFromSource(u32(entry.defective), StatusCodes.Good, t);
    entry.goodVar.setValueFromSource(u32(entry.processed - entry.defective), StatusCodes.Good, t);
    entry.cycleVar.setValueFromSource(new Variant({ dataType: DataType.Double, value: opt.cycleMs / 1000 }), StatusCodes.Good, t);
    const temp = 40 + 0.01 * entry.processed;
    entry.tempVar.setValueFromSource(new Variant({ dataType: DataType.Double, value: temp }), StatusCodes.Good, t);
  }
  function setState(entry, packml, machinery, job, t) {
    const s = (value) => new Variant({ dataType: DataType.String, value });
    if (entry.packmlState.readValue().value.value !== packml) {
      entry.packmlState.setValueFromSource(s(packml), StatusCodes.Good, t);
      entry.itemState.setValueFromSource(s(machinery), StatusCodes.Good, t);
    }
    if (entry.jobVar.readValue().value.value !== job) {
      entry.jobVar.setValueFromSource(s(job), StatusCodes.Good, t);
      entry.programVar.setValueFromSource(s(job ? entry.spec.operation.toUpperCase() : ""), StatusCodes.Good, t);
    }
  }
  function step() {
    const t = now();
    const going = !opt.go || fs.existsSync(opt.go);
    let changed = false;
    for (const entry of Object.values(live)) {
      const m = entry.spec;
      if (going && entry.processed < opt.parts) {
        if (!state.started[m.job]) state.started[m.job] = t.getTime();
        entry.processed += 1;
        if (entry.processed % opt.defectEvery === 0) entry.defective += 1;
        if (entry.processed >= opt.parts) state.ended[m.job] = t.getTime();
        state.counts[m.name] = [entry.processed, entry.defective];
        changed = true;
      }
    }
    if (changed) saveState(opt.state, state); // before publishing: a kill never shows a count the file lacks
    for (const entry of Object.values(live)) {
      const working = going && entry.processed < opt.parts;
      if (changed) publish(entry, t);
      setState(entry, working ? "Execute" : "Idle", working ? "Executing" : "NotExecuting", working ? entry.spec.order : "", t);
    }
    if (changed) responseList.setValueFromSource(new Variant({ dataType: DataType.String, value: JSON.stringify(responses()) }), StatusCodes.Good, t);
  }

  await server.start();
  setInterval(step, opt.cycleMs);
  const stop = async () => {
    await server.shutdown(0);
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  console.log(`READY ${server.endpoints[0].port}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
