/**
 * Renders infra/sftp-transfer.yaml for one set of parameter values, the way CloudFormation would before creating
 * anything: conditions evaluated, resources and outputs whose condition is false dropped, Fn::If resolved,
 * AWS::NoValue removed, the values set as the parameters' defaults. cfn-lint, cfn-guard and moto then check exactly
 * what that combination deploys. (A test helper: CloudFormation itself reads the template as it is.)
 */
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {parse, type Tags} from 'yaml'

import {repoRoot} from '../peers/paths.js'

export const templatePath = path.join(repoRoot, 'infra', 'sftp-transfer.yaml')

type Json = null | boolean | number | string | Json[] | {[key: string]: Json}
type JsonObject = {[key: string]: Json}
export interface Template extends JsonObject {
  Parameters: {[name: string]: JsonObject}
  Resources: {[name: string]: JsonObject}
}

// CloudFormation's short forms (!Ref, !Sub, ...) as their long JSON forms.
const FUNCTIONS = ['Base64', 'Cidr', 'FindInMap', 'GetAZs', 'If', 'ImportValue', 'Join', 'Select', 'Split', 'Sub', 'And', 'Equals', 'Not', 'Or']
const cfnTags: Tags = [
  ...(['scalar', 'seq', 'map'] as const).flatMap((kind) => [
    {tag: '!Ref', collection: kind === 'scalar' ? undefined : kind, resolve: (value: unknown) => ({Ref: toJs(value)})},
    {tag: '!Condition', collection: kind === 'scalar' ? undefined : kind, resolve: (value: unknown) => ({Condition: toJs(value)})},
    {
      tag: '!GetAtt',
      collection: kind === 'scalar' ? undefined : kind,
      resolve: (value: unknown) => {
        const js = toJs(value)
        if (typeof js !== 'string') return {'Fn::GetAtt': js}
        const dot = js.indexOf('.')
        return {'Fn::GetAtt': [js.slice(0, dot), js.slice(dot + 1)]}
      },
    },
    ...FUNCTIONS.map((name) => ({
      tag: `!${name}`,
      collection: kind === 'scalar' ? undefined : kind,
      resolve: (value: unknown) => ({[`Fn::${name}`]: toJs(value)}),
    })),
  ]),
] as Tags

function toJs(value: unknown): Json {
  if (value && typeof value === 'object' && 'toJSON' in value && typeof value.toJSON === 'function') return value.toJSON() as Json
  return value as Json
}

export function loadTemplate(file = templatePath): Template {
  return parse(readFileSync(file, 'utf8'), {customTags: cfnTags, version: '1.1'}) as Template
}

const NO_VALUE = Symbol('AWS::NoValue')
const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value)

/** The template as deployed with these parameters (others keep their defaults). */
export function renderTemplate(parameters: Record<string, string>, template: Template = loadTemplate()): Template {
  const out = structuredClone(template)
  for (const [name, value] of Object.entries(parameters)) {
    if (!out.Parameters[name]) throw new Error(`the template has no parameter ${name}`)
    out.Parameters[name].Default = value
  }
  const value = (name: string): string => {
    const parameter = out.Parameters[name]
    if (!parameter || parameter.Default === undefined) throw new Error(`parameter ${name} has no value`)
    return String(parameter.Default)
  }
  const conditions = (out.Conditions ?? {}) as JsonObject
  const memo = new Map<string, boolean>()

  const scalar = (node: Json): string => {
    if (typeof node === 'string' || typeof node === 'number' || typeof node === 'boolean') return String(node)
    if (isObject(node) && typeof node.Ref === 'string') return value(node.Ref)
    if (isObject(node) && 'Fn::FindInMap' in node) return String(findInMap(node['Fn::FindInMap'] as Json[]))
    throw new Error(`cannot evaluate ${JSON.stringify(node)} in a condition`)
  }
  const findInMap = ([map, first, second]: Json[]): Json => {
    const mappings = out.Mappings as {[name: string]: {[key: string]: JsonObject}}
    return mappings[scalar(map)][scalar(first)][scalar(second)]
  }
  const evaluate = (node: Json): boolean => {
    if (!isObject(node)) throw new Error(`not a condition: ${JSON.stringify(node)}`)
    if (typeof node.Condition === 'string') return condition(node.Condition)
    if ('Fn::Equals' in node) {
      const [a, b] = node['Fn::Equals'] as Json[]
      return scalar(a) === scalar(b)
    }
    if ('Fn::Not' in node) return !evaluate((node['Fn::Not'] as Json[])[0])
    if ('Fn::And' in node) return (node['Fn::And'] as Json[]).every(evaluate)
    if ('Fn::Or' in node) return (node['Fn::Or'] as Json[]).some(evaluate)
    throw new Error(`unknown condition function in ${JSON.stringify(node)}`)
  }
  const condition = (name: string): boolean => {
    if (!memo.has(name)) {
      if (!(name in conditions)) throw new Error(`unknown condition ${name}`)
      memo.set(name, evaluate(conditions[name]))
    }
    return memo.get(name) as boolean
  }
  // Resolves Fn::If (and FindInMap, so rules see plain values) and drops AWS::NoValue.
  const resolve = (node: Json): Json | typeof NO_VALUE => {
    if (Array.isArray(node)) return node.map(resolve).filter((item): item is Json => item !== NO_VALUE)
    if (!isObject(node)) return node
    if (node.Ref === 'AWS::NoValue') return NO_VALUE
    if ('Fn::If' in node) {
      const [name, whenTrue, whenFalse] = node['Fn::If'] as [string, Json, Json]
      return resolve(condition(name) ? whenTrue : whenFalse)
    }
    if ('Fn::FindInMap' in node) {
      const args = node['Fn::FindInMap'] as Json[]
      if (args.every((arg) => typeof arg === 'string' || (isObject(arg) && typeof arg.Ref === 'string' && arg.Ref in out.Parameters))) {
        return findInMap(args)
      }
    }
    // A Fn::Sub of parameters only (e.g. '${Prefix}/home/') becomes its value, as rules and event patterns see it.
    if (typeof node['Fn::Sub'] === 'string') {
      const names = [...node['Fn::Sub'].matchAll(/\$\{([^}!]+)\}/g)].map((match) => match[1])
      if (names.every((name) => name in out.Parameters)) return node['Fn::Sub'].replace(/\$\{([^}!]+)\}/g, (_, name: string) => value(name))
    }
    const result: JsonObject = {}
    for (const [key, child] of Object.entries(node)) {
      const resolved = resolve(child)
      if (resolved !== NO_VALUE) result[key] = resolved
    }
    return result
  }
  for (const section of ['Resources', 'Outputs'] as const) {
    const entries = (out[section] ?? {}) as {[name: string]: JsonObject}
    for (const [name, entry] of Object.entries(entries)) {
      if (typeof entry.Condition === 'string' && !condition(entry.Condition)) {
        delete entries[name]
        continue
      }
      delete entry.Condition
      entries[name] = resolve(entry) as JsonObject
    }
  }
  delete out.Conditions
  return out
}

/** Logical ids of the resources, sorted. */
export const resourceIds = (template: Template): string[] => Object.keys(template.Resources).sort()

/** Parameters every rendering needs (no defaults) plus a created zone. */
export const REQUIRED_PARAMETERS = {
  RecordName: 'sftp.corp.example',
  ZoneName: 'corp.example',
  LambdaCodeBucket: 'code-bucket',
  LambdaCodeKey: 'sftp-cutover/lambda-0123456789abcdef.zip',
}

const REPLICA = {
  ReplicaBucketArn: 'arn:aws:s3:::sftp-replica-eu-west-1',
  ReplicaKmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
}
const CLAMAV = {MalwareScanning: 'clamav', ScannerImageUri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/sftp-clamav:1'}

/** The combinations the tests render: defaults, each option alone, all together (with either scanner). */
export const COMBINATIONS: Record<string, Record<string, string>> = {
  defaults: {},
  guardduty: {MalwareScanning: 'guardduty'},
  clamav: CLAMAV,
  replication: REPLICA,
  'replication-with-deletes': {...REPLICA, ReplicateDeleteMarkers: 'true'},
  eventbridge: {EventBus: 'eventbridge'},
  email: {NotificationEmail: 'sftp-ops@corp.example'},
  'all-clamav': {...CLAMAV, ...REPLICA, ReplicateDeleteMarkers: 'true', EventBus: 'eventbridge', NotificationEmail: 'sftp-ops@corp.example'},
  'all-guardduty': {MalwareScanning: 'guardduty', ...REPLICA, EventBus: 'eventbridge', NotificationEmail: 'sftp-ops@corp.example'},
}

/** What moto 5.2.5's CloudFormation cannot create (see infra-moto-stack.test.ts). */
export const MOTO_CANNOT_CREATE = new Set([
  'AWS::Transfer::Server',
  'AWS::GuardDuty::MalwareProtectionPlan',
  'AWS::CloudWatch::Alarm',
  'AWS::S3::BucketPolicy',
  'AWS::SNS::Subscription',
  'AWS::SNS::TopicPolicy',
  'AWS::IAM::RolePolicy',
  'AWS::EC2::SecurityGroupEgress',
])

/** moto creates these but cannot resolve Fn::GetAtt on them. */
const MOTO_NO_ATTRIBUTES = new Set(['AWS::EFS::FileSystem', 'AWS::EFS::AccessPoint'])

/**
 * Logical ids a resource or output refers to (Ref, GetAtt, Sub variables; DependsOn is only ordering); with
 * `attributes`, only those read through GetAtt (or ${X.Attr}).
 */
function references(node: Json, found = new Set<string>(), attributes = false): Set<string> {
  if (Array.isArray(node)) for (const item of node) references(item, found, attributes)
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'Ref' && typeof value === 'string') {
        if (!attributes) found.add(value)
      } else if (key === 'Fn::GetAtt' && Array.isArray(value)) found.add(String(value[0]))
      else if (key === 'Fn::Sub') {
        const text = Array.isArray(value) ? String(value[0]) : String(value)
        for (const match of text.matchAll(attributes ? /\$\{([A-Za-z0-9]+)\./g : /\$\{([A-Za-z0-9]+)[.}]/g)) found.add(match[1])
        if (Array.isArray(value)) references(value[1], found, attributes)
      } else if (key !== 'DependsOn') references(value as Json, found, attributes)
    }
  }
  return found
}

/** The template without what moto cannot create, nor anything that refers to it, transitively. */
export function reduceForMoto(template: Template): {template: Template; dropped: string[]} {
  const out = structuredClone(template)
  const dropped = new Set(
    Object.entries(out.Resources)
      .filter(([, resource]) => MOTO_CANNOT_CREATE.has(String(resource.Type)) || String(resource.Type).startsWith('Custom::'))
      .map(([name]) => name),
  )
  for (let changed = true; changed; ) {
    changed = false
    for (const [name, resource] of Object.entries(out.Resources)) {
      const readsMissingAttribute = [...references(resource, new Set(), true)].some((ref) =>
        MOTO_NO_ATTRIBUTES.has(String(out.Resources[ref]?.Type)),
      )
      if (!dropped.has(name) && (readsMissingAttribute || [...references(resource)].some((ref) => dropped.has(ref)))) {
        dropped.add(name)
        changed = true
      }
    }
  }
  for (const name of dropped) delete out.Resources[name]
  for (const resource of Object.values(out.Resources)) {
    if (resource.DependsOn === undefined) continue
    const kept = [resource.DependsOn].flat().filter((name) => !dropped.has(String(name)))
    if (kept.length > 0) resource.DependsOn = kept
    else delete resource.DependsOn
  }
  // moto has no Fn::Cidr and its Fn::GetAZs returns no list: the values they give in us-east-1 for a /16 VpcCidr.
  const [a, b] = String(out.Parameters.VpcCidr.Default).split('.')
  const resolved = JSON.stringify(out.Resources)
    .replaceAll('{"Fn::GetAZs":""}', '["us-east-1a","us-east-1b"]')
    .replace(/\{"Fn::Select":\[(\d),\{"Fn::Cidr":\[\{"Ref":"VpcCidr"\},2,8\]\}\]\}/g, (_, index: string) => `"${a}.${b}.${index}.0/24"`)
  out.Resources = JSON.parse(resolved) as Template['Resources']
  const outputs = (out.Outputs ?? {}) as Record<string, Json>
  for (const [name, output] of Object.entries(outputs)) {
    const readsMissingAttribute = [...references(output, new Set(), true)].some((ref) => MOTO_NO_ATTRIBUTES.has(String(out.Resources[ref]?.Type)))
    if (readsMissingAttribute || [...references(output)].some((ref) => dropped.has(ref))) delete outputs[name]
  }
  delete out.Rules
  return {template: out, dropped: [...dropped].sort()}
}
