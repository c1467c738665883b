// A TypeScript SDK client session against the gateway, reported as one JSON document.
//
//   node ts_client.mjs --url URL [--key KEY] [--call TOOL --arguments JSON]
//
// Connects with the SDK's Client over StreamableHTTPClientTransport (sending
// `Authorization: Bearer KEY` when a key is given), which runs the initialize
// handshake, then lists the tools and optionally calls one. Prints
// {protocolVersion, serverInfo, capabilities, tools, call} on success, or
// {error: {name, code, message}} and exit status 1 when any step fails.
import { parseArgs } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const { values: opts } = parseArgs({
  options: {
    url: { type: "string" },
    key: { type: "string" },
    call: { type: "string" },
    arguments: { type: "string", default: "{}" },
  },
});
if (!opts.url) {
  process.stderr.write("usage: node ts_client.mjs --url URL [--key KEY] [--call TOOL --arguments JSON]\n");
  process.exit(2);
}

const headers = opts.key ? { Authorization: `Bearer ${opts.key}` } : {};
const transport = new StreamableHTTPClientTransport(new URL(opts.url), {
  requestInit: { headers },
});
const client = new Client({ name: "fastn-gen-interop", version: "1.0.0" });

function emit(doc) {
  process.stdout.write(`${JSON.stringify(doc)}\n`);
}

let status = 0;
try {
  await client.connect(transport);
  const report = {
    protocolVersion: transport.protocolVersion ?? null,
    serverInfo: client.getServerVersion(),
    capabilities: client.getServerCapabilities(),
  };
  report.tools = (await client.listTools()).tools;
  if (opts.call) {
    // callTool also checks structuredContent against the tool's outputSchema.
    report.call = await client.callTool({
      name: opts.call,
      arguments: JSON.parse(opts.arguments),
    });
  }
  emit(report);
} catch (err) {
  emit({
    error: {
      name: err?.constructor?.name ?? "Error",
      code: err?.code ?? null,
      message: String(err?.message ?? err),
    },
  });
  status = 1;
} finally {
  await client.close().catch(() => {});
}
process.exit(status);
