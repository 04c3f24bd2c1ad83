#!/usr/bin/env node
// The prod change review: what promoting this commit will do to a deployed stack, before anyone approves it.
//
// Compares the stack's new template (from the cloud assembly) with its deployed template (CloudFormation
// GetTemplate; read-only calls only, nothing is created in the account) using the engine `cdk diff` uses
// (@aws-cdk/cloudformation-diff), so replacements, IAM statements, resource policies and security-group
// rules are judged as the CDK CLI judges them. No change set: values resolved only at deploy time (SSM
// parameters, imports) are not seen, and a property whose replacement depends on them shows as "may replace". Writes report.json,
// report.html and exports.env (the variables the pipeline exports) into --out. A replacement or deletion
// of a stateful resource fails the review (exit 3) unless the acknowledgments file names it, with a reason.
//
// Exit codes: 0 reviewed, 2 bad input (arguments, assembly, acknowledgments), 3 blocked, 4 AWS call failed.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

export const EXIT = { ok: 0, input: 2, blocked: 3, aws: 4 };
export const STATEFUL_TYPES = new Set([
  "AWS::DynamoDB::Table",
  "AWS::DynamoDB::GlobalTable",
  "AWS::S3::Bucket",
  "AWS::KMS::Key",
  "AWS::Logs::LogGroup",
  "AWS::SQS::Queue",
]);
const RESOURCE_POLICY_TYPES = new Set([
  "AWS::S3::BucketPolicy",
  "AWS::SNS::TopicPolicy",
  "AWS::SQS::QueuePolicy",
  "AWS::Lambda::Permission",
  "AWS::Events::EventBusPolicy",
  "AWS::ApiGateway::RestApi",
]);

export class ReviewInputError extends Error {}

const USAGE = `usage: change-review.mjs --assembly DIR --stack DISPLAY_NAME --out DIR [--acknowledgments FILE]
  --assembly         the cloud assembly (cdk.out) holding the stack's new template
  --stack            the stack's display name in the assembly, e.g. PaymentPipeline/prod/PaymentStack
  --out              where report.json, report.html and exports.env are written
  --acknowledgments  JSON file acknowledging replacements/deletions of stateful resources (optional)`;

// -- the assembly ------------------------------------------------------------------------------------

/** The stack artifact named `displayName` anywhere in the assembly (nested stage assemblies included). */
export function findStack(assemblyDir, displayName) {
  const seen = [];
  const visit = (dir) => {
    const manifestFile = join(dir, "manifest.json");
    if (!existsSync(manifestFile)) throw new ReviewInputError(`${dir} is not a cloud assembly (no manifest.json)`);
    const manifest = JSON.parse(readFileSync(manifestFile, "utf8"));
    for (const [id, artifact] of Object.entries(manifest.artifacts ?? {})) {
      if (artifact.type === "aws:cloudformation:stack") {
        const name = artifact.displayName ?? id;
        seen.push(name);
        if (name === displayName) return { id, dir, artifact };
      } else if (artifact.type === "cdk:cloud-assembly") {
        const found = visit(join(dir, artifact.properties.directoryName));
        if (found) return found;
      }
    }
    return undefined;
  };
  const found = visit(assemblyDir);
  if (!found) {
    throw new ReviewInputError(`no stack ${JSON.stringify(displayName)} in ${assemblyDir}; stacks: ${seen.join(", ")}`);
  }
  const { properties } = found.artifact;
  const [, account, region] = /^aws:\/\/([^/]+)\/(.+)$/.exec(found.artifact.environment) ?? [];
  return {
    displayName,
    stackName: properties.stackName ?? found.id,
    account,
    region,
    templateFile: join(found.dir, properties.templateFile),
  };
}

// -- acknowledgments ---------------------------------------------------------------------------------

/** `{"acknowledgments": [{"stack": ..., "logicalId": ..., "change": "replace"|"delete", "reason": ...}]}` */
export function readAcknowledgments(file) {
  if (!file) return [];
  if (!existsSync(file)) throw new ReviewInputError(`acknowledgments file ${file} does not exist`);
  let document;
  try {
    document = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new ReviewInputError(`acknowledgments file ${file} is not valid JSON: ${error.message}`);
  }
  const entries = document?.acknowledgments;
  if (!Array.isArray(entries)) {
    throw new ReviewInputError(`${file}: expected {"acknowledgments": [...]} at the top level`);
  }
  const allowed = new Set(["stack", "logicalId", "change", "reason"]);
  return entries.map((entry, index) => {
    const where = `${file}: acknowledgments[${index}]`;
    if (typeof entry !== "object" || entry === null) throw new ReviewInputError(`${where} must be an object`);
    const unknown = Object.keys(entry).filter((key) => !allowed.has(key));
    if (unknown.length) throw new ReviewInputError(`${where} has unknown keys ${unknown.join(", ")}`);
    for (const key of ["stack", "logicalId", "reason"]) {
      if (typeof entry[key] !== "string" || !entry[key].trim()) {
        throw new ReviewInputError(`${where}.${key} must be a non-empty string`);
      }
    }
    if (!["replace", "delete"].includes(entry.change)) {
      throw new ReviewInputError(`${where}.change must be "replace" or "delete", got ${JSON.stringify(entry.change)}`);
    }
    if (entry.reason.trim().length < 20) {
      throw new ReviewInputError(`${where}.reason must say why the data loss is acceptable (20 characters or more)`);
    }
    return entry;
  });
}

// -- the review --------------------------------------------------------------------------------------

/** Leaf paths where two property values differ, e.g. `KeySchema[0].AttributeName`. */
export function changedPaths(oldValue, newValue, prefix = "") {
  const isObject = (value) => typeof value === "object" && value !== null;
  if (Array.isArray(oldValue) && Array.isArray(newValue)) {
    const paths = [];
    for (let i = 0; i < Math.max(oldValue.length, newValue.length); i++) {
      paths.push(...changedPaths(oldValue[i], newValue[i], `${prefix}[${i}]`));
    }
    return paths;
  }
  if (isObject(oldValue) && isObject(newValue) && !Array.isArray(oldValue) && !Array.isArray(newValue)) {
    const keys = [...new Set([...Object.keys(oldValue), ...Object.keys(newValue)])].sort();
    return keys.flatMap((key) => changedPaths(oldValue[key], newValue[key], prefix ? `${prefix}.${key}` : key));
  }
  return JSON.stringify(oldValue) === JSON.stringify(newValue) ? [] : [prefix];
}

function classify(change) {
  if (change.isAddition) return "added";
  if (change.isRemoval) return "removed";
  const impact = String(change.changeImpact);
  if (impact === "WILL_REPLACE" || impact === "MAY_REPLACE") return "replaced";
  return "modified";
}

/** The review of `diff` (a TemplateDiff) for one stack; pure, so tests need no AWS. */
export function review(diff, { stack, acknowledgments, firstDeployment }) {
  const resources = [];
  diff.resources.forEachDifference((logicalId, change) => {
    const type = change.newResourceType ?? change.oldResourceType;
    const kind = classify(change);
    const properties = Object.entries(change.propertyUpdates ?? {}).map(([name, property]) => ({
      name,
      impact: String(property.changeImpact ?? ""),
      paths: changedPaths(property.oldValue, property.newValue, name),
    }));
    const retained = ["Retain", "RetainExceptOnCreate"].includes(change.oldValue?.DeletionPolicy);
    const dataLoss = STATEFUL_TYPES.has(type) && (kind === "replaced" || (kind === "removed" && !retained));
    resources.push({
      logicalId,
      type,
      change: kind,
      impact: String(change.changeImpact),
      replacementCertain: String(change.changeImpact) === "WILL_REPLACE",
      properties,
      stateful: STATEFUL_TYPES.has(type),
      resourcePolicy: RESOURCE_POLICY_TYPES.has(type) || properties.some((p) => /Policy/.test(p.name)),
      securityGroup: type === "AWS::EC2::SecurityGroup" || /^AWS::EC2::SecurityGroup(Ingress|Egress)$/.test(type),
      dataLoss,
    });
  });
  const count = (kind) => resources.filter((r) => r.change === kind).length;
  const iamStatements = diff.iamChanges.statements;
  const iamChanges =
    iamStatements.additions.length +
    iamStatements.removals.length +
    diff.iamChanges.managedPolicies.additions.length +
    diff.iamChanges.managedPolicies.removals.length;
  const used = new Set();
  const flagged = resources.filter((r) => r.dataLoss);
  for (const resource of flagged) {
    const wanted = resource.change === "replaced" ? "replace" : "delete";
    const ack = acknowledgments.find(
      (a) => a.stack === stack.stackName && a.logicalId === resource.logicalId && a.change === wanted,
    );
    if (ack) {
      used.add(ack);
      resource.acknowledged = ack.reason;
    }
  }
  const unused = acknowledgments.filter((a) => a.stack === stack.stackName && !used.has(a));
  const blockers = [
    ...flagged
      .filter((r) => !r.acknowledged)
      .map(
        (r) =>
          `${r.change === "replaced" ? "replacement" : "deletion"} of stateful ${r.type} ${r.logicalId} ` +
          `(${r.properties.flatMap((p) => p.paths).join(", ") || "resource removed"}) is not acknowledged`,
      ),
    ...unused.map(
      (a) =>
        `acknowledgment of ${a.change} of ${a.logicalId} matches no change in this release: remove it ` +
        "(acknowledgments hold for one release, so an old one can never let a later data loss through)",
    ),
  ];
  const totals = {
    added: count("added"),
    modified: count("modified"),
    replaced: count("replaced"),
    removed: count("removed"),
    iamChanges,
    securityGroupChanges:
      diff.securityGroupChanges.ingress.additions.length +
      diff.securityGroupChanges.ingress.removals.length +
      diff.securityGroupChanges.egress.additions.length +
      diff.securityGroupChanges.egress.removals.length,
    resourcePolicyChanges: resources.filter((r) => r.resourcePolicy).length,
    statefulDataLoss: flagged.length,
  };
  return {
    stack: stack.displayName,
    stackName: stack.stackName,
    account: stack.account,
    region: stack.region,
    firstDeployment,
    totals,
    summary: summarize(totals, firstDeployment, blockers.length > 0),
    resources,
    iam: { statements: diff.iamChanges.summarizeStatements(), managedPolicies: diff.iamChanges.summarizeManagedPolicies() },
    securityGroups: diff.securityGroupChanges.summarize(),
    acknowledged: flagged.filter((r) => r.acknowledged).map((r) => ({ logicalId: r.logicalId, reason: r.acknowledged })),
    blockers,
    blocked: blockers.length > 0,
  };
}

export function summarize(totals, firstDeployment, blocked) {
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const head = firstDeployment ? `first deployment: ${totals.added} added` : [
    `${totals.added} added`,
    `${totals.modified} modified`,
    `${totals.replaced} replaced`,
    `${totals.removed} removed`,
  ].join(", ");
  const parts = [head, plural(totals.iamChanges, "IAM change")];
  if (totals.securityGroupChanges) parts.push(plural(totals.securityGroupChanges, "security-group change"));
  if (totals.statefulDataLoss) parts.push(`${totals.statefulDataLoss} stateful replaced/removed`);
  return `${parts.join(", ")}${blocked ? " (BLOCKED)" : ""}`;
}

// -- reports -----------------------------------------------------------------------------------------

const escape = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const stripAnsi = (text) => String(text).replace(/\u001b\[[0-9;]*m/g, "");

function table(rows) {
  if (!rows || rows.length <= 1) return "<p>none</p>";
  const [header, ...body] = rows;
  const cells = (row, tag) => row.map((cell) => `<${tag}>${escape(stripAnsi(cell)).replace(/\n/g, "<br>")}</${tag}>`).join("");
  return `<table><tr>${cells(header, "th")}</tr>${body.map((row) => `<tr>${cells(row, "td")}</tr>`).join("")}</table>`;
}

export function renderHtml(report) {
  const rows = [["logical id", "type", "change", "property paths", "notes"]];
  for (const r of report.resources) {
    const notes = [
      r.dataLoss ? (r.acknowledged ? `stateful, acknowledged: ${r.acknowledged}` : "STATEFUL: data loss, not acknowledged") : "",
      r.stateful && !r.dataLoss ? "stateful" : "",
      r.resourcePolicy ? "resource policy" : "",
      r.securityGroup ? "security group" : "",
      r.change === "replaced" && !r.replacementCertain ? "may replace (depends on values known at deploy time)" : "",
    ].filter(Boolean);
    rows.push([r.logicalId, r.type, r.change, r.properties.flatMap((p) => p.paths).join("\n"), notes.join("; ")]);
  }
  const blockers = report.blockers.length
    ? `<h2>Blocked</h2><ul>${report.blockers.map((b) => `<li>${escape(b)}</li>`).join("")}</ul>`
    : "";
  const acknowledged = report.acknowledged.length
    ? `<h2>Acknowledged data loss</h2><ul>${report.acknowledged.map((a) => `<li>${escape(a.logicalId)}: ${escape(a.reason)}</li>`).join("")}</ul>`
    : "";
  return `<!doctype html><html><head><meta charset="utf-8"><title>Change review: ${escape(report.stack)}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}.blocked{color:#b00}</style></head>
<body><h1>Change review: ${escape(report.stack)} (${escape(report.stackName)}, ${escape(report.account)}/${escape(report.region)})</h1>
<p class="${report.blocked ? "blocked" : ""}"><strong>${escape(report.summary)}</strong></p>
<p>${report.firstDeployment ? "The stack is not deployed yet: everything is added." : "Compared with the deployed template (as <code>cdk diff</code> compares; values resolved at deploy time, such as SSM parameters, are not seen)."}</p>
${blockers}${acknowledged}
<h2>Resources</h2>${table(rows)}
<h2>IAM statement changes (identity and resource policies)</h2>${table(report.iam.statements)}
<h2>Managed policy changes</h2>${table(report.iam.managedPolicies)}
<h2>Security group changes</h2>${table(report.securityGroups)}
</body></html>
`;
}

export function writeReports(report, outDir) {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, "report.html"), renderHtml(report));
  // Sourced by the buildspec, so CodeBuild exports them (CodePipeline caps a variable at 1,000 characters).
  const quote = (value) => `'${String(value).replace(/'/g, "'\\''")}'`;
  writeFileSync(
    join(outDir, "exports.env"),
    `export CHANGE_SUMMARY=${quote(report.summary.slice(0, 200))}\nexport CHANGE_BLOCKED=${report.blocked}\n`,
  );
}

// -- AWS ---------------------------------------------------------------------------------------------

async function deployedTemplate(cfn, sdk, stackName) {
  try {
    const { Stacks } = await cfn.send(new sdk.DescribeStacksCommand({ StackName: stackName }));
    const status = Stacks?.[0]?.StackStatus;
    if (!status || status === "REVIEW_IN_PROGRESS" || status === "DELETE_COMPLETE") return undefined;
  } catch (error) {
    if (/does not exist/.test(String(error.message))) return undefined;
    throw error;
  }
  const { TemplateBody } = await cfn.send(new sdk.GetTemplateCommand({ StackName: stackName, TemplateStage: "Original" }));
  try {
    return JSON.parse(TemplateBody);
  } catch {
    throw new ReviewInputError(`the deployed template of ${stackName} is not JSON (a CDK stack's always is)`);
  }
}

// -- main --------------------------------------------------------------------------------------------

export async function main(argv) {
  let args;
  try {
    ({ values: args } = parseArgs({
      args: argv,
      options: {
        assembly: { type: "string" },
        stack: { type: "string" },
        out: { type: "string" },
        acknowledgments: { type: "string" },
        help: { type: "boolean" },
      },
    }));
  } catch (error) {
    console.error(`change-review: ${error.message}\n${USAGE}`);
    return EXIT.input;
  }
  if (args.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  const missing = ["assembly", "stack", "out"].filter((key) => !args[key]);
  if (missing.length) {
    console.error(`change-review: missing ${missing.map((m) => `--${m}`).join(", ")}\n${USAGE}`);
    return EXIT.input;
  }
  let stack;
  let acknowledgments;
  let newTemplate;
  try {
    stack = findStack(args.assembly, args.stack);
    acknowledgments = readAcknowledgments(args.acknowledgments);
    newTemplate = JSON.parse(readFileSync(stack.templateFile, "utf8"));
  } catch (error) {
    if (!(error instanceof ReviewInputError)) throw error;
    console.error(`change-review: ${error.message}`);
    return EXIT.input;
  }
  let fullDiff;
  let sdk;
  try {
    [{ fullDiff }, sdk] = await Promise.all([
      import("@aws-cdk/cloudformation-diff"),
      import("@aws-sdk/client-cloudformation"),
    ]);
  } catch (error) {
    if (error.code !== "ERR_MODULE_NOT_FOUND") throw error;
    console.error(
      `change-review: ${error.message.split("\n")[0]}: install the review's packages with ` +
        "`npm ci --omit=dev` (or scripts/setup, which installs them with the CDK CLI)",
    );
    return EXIT.input;
  }
  const cfn = new sdk.CloudFormationClient({ region: process.env.AWS_REGION ?? stack.region });
  let current;
  try {
    current = await deployedTemplate(cfn, sdk, stack.stackName);
  } catch (error) {
    if (error instanceof ReviewInputError) {
      console.error(`change-review: ${error.message}`);
      return EXIT.input;
    }
    console.error(`change-review: CloudFormation call failed for ${stack.stackName}: ${error.name}: ${error.message}`);
    return EXIT.aws;
  }
  const diff = fullDiff(current ?? {}, newTemplate);
  const report = review(diff, { stack, acknowledgments, firstDeployment: current === undefined });
  writeReports(report, args.out);
  console.log(`change review of ${stack.displayName} (${stack.stackName}): ${report.summary}`);
  for (const resource of report.resources.filter((r) => r.dataLoss)) {
    const state = resource.acknowledged ? `acknowledged: ${resource.acknowledged}` : "NOT acknowledged";
    console.log(`  stateful ${resource.change}: ${resource.logicalId} (${resource.type}) ${state}`);
  }
  for (const blocker of report.blockers) console.error(`change-review: blocked: ${blocker}`);
  console.log(`report: ${join(args.out, "report.html")}`);
  return report.blocked ? EXIT.blocked : EXIT.ok;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(`change-review: unexpected failure: ${error.stack ?? error}`);
      process.exit(1);
    },
  );
}
