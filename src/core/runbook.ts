import {createHash} from 'node:crypto'
import {z} from 'zod'

import {parseDuration} from './duration.js'
import {parseByteSize, STORAGE_CLASSES} from './sync-plan.js'

/**
 * A cutover runbook: an ordered list of steps, each a known type with its options. Written in YAML, e.g.
 *
 *   name: cutover
 *   steps:
 *     - preflight
 *     - confirm
 *     - freeze
 *     - sync                      # the last complete sync's options; override e.g. with sync: {storageClass: STANDARD_IA}
 *     - verify: {efs: true}
 *     - dns-switch: {timeoutSeconds: 300}
 *     - smoke-test
 *     - report
 */

const seconds = z.number().int('must be a whole number of seconds').min(0, 'must be 0 or more')

export const STEP_OPTIONS = {
  preflight: z.object({skip: z.array(z.enum(['doctor', 'users', 'hostkeys', 'sync', 'verify', 'dns'])).default([])}).strict(),
  confirm: z.object({message: z.string().default('Start the cutover: freeze the legacy box and switch clients to AWS Transfer Family?')}).strict(),
  freeze: z.object({where: z.enum(['remote', 'local']).default('remote'), command: z.string().min(1).optional()}).strict(),
  // Each given option replaces the one the last complete sync ran with (the final delta carries those over).
  sync: z
    .object({
      transfers: z.number().int().min(1).max(256).optional(),
      connections: z.number().int().min(1).max(32).optional(),
      symlinks: z.enum(['skip', 'follow']).optional(),
      include: z.array(z.string().min(1)).optional(),
      exclude: z.array(z.string().min(1)).optional(),
      bwlimit: z
        .union([z.number().int().positive(), z.string()])
        .transform((v, ctx) => {
          const n = typeof v === 'number' ? v : parseByteSize(v)
          if (n === undefined) ctx.addIssue({code: 'custom', message: 'must be bytes per second, e.g. 10M, 512K or 1G'})
          return n
        })
        .optional(),
      storageClass: z.enum(STORAGE_CLASSES).optional(),
      sshDirs: z.boolean().optional(),
      // soft cutover: repeat the delta until the box has been quiet this long, e.g. "5m"
      untilQuiet: z.string().refine((v) => parseDuration(v) !== undefined, 'must be a duration such as 90s, 5m or 1h').optional(),
    })
    .strict(),
  verify: z.object({efs: z.boolean().default(true), sourceHash: z.boolean().default(false)}).strict(),
  'dns-switch': z.object({timeoutSeconds: seconds.default(300)}).strict(),
  'smoke-test': z.object({}).strict(),
  report: z.object({}).strict(),
  exec: z.object({command: z.string().min(1, 'needs a command')}).strict(),
  wait: z.object({seconds: seconds.max(86_400, 'must be at most a day')}).strict(),
} as const

export type StepType = keyof typeof STEP_OPTIONS
export const STEP_TYPES = Object.keys(STEP_OPTIONS) as StepType[]

export interface RunbookStep {
  /** Unique within the runbook: the type, or type-2, type-3… when a type repeats; or the id given */
  id: string
  type: StepType
  options: Record<string, unknown>
}

export interface Runbook {
  name: string
  steps: RunbookStep[]
  /** Identifies the runbook's content: a changed runbook starts afresh instead of resuming */
  digest: string
}

/** The built-in cutover night. */
export const DEFAULT_RUNBOOK = {
  name: 'cutover',
  steps: ['preflight', 'confirm', 'freeze', 'sync', 'verify', 'dns-switch', 'smoke-test', 'report'],
}

/**
 * The soft cutover: no freeze before the switch. Clients that still reach the legacy box keep working while the record
 * propagates; the box is drained (the delta repeated until quiet, stragglers reported) and frozen only then. Files
 * may arrive on both sides meanwhile: rollback's conflict rule covers that.
 */
export function softRunbook(untilQuiet: string) {
  return {
    name: 'cutover-soft',
    steps: [
      'preflight',
      {confirm: {message: 'Start the soft cutover: switch clients to AWS Transfer Family now, keep syncing the legacy box until it is quiet, then freeze it?'}},
      'dns-switch',
      'smoke-test',
      {id: 'drain', sync: {untilQuiet}},
      'freeze',
      {id: 'sync', sync: {}},
      'verify',
      'report',
    ],
  }
}

const stepEntry = z.union([
  z.string(),
  z.record(z.string(), z.unknown()).refine((o) => Object.keys(o).filter((k) => k !== 'id').length === 1, 'a step is one type with its options, e.g. "wait: {seconds: 30}"'),
])
const runbookSchema = z.object({name: z.string().min(1).default('runbook'), steps: z.array(stepEntry).min(1, 'needs at least one step')}).strict()

export type RunbookProblem = {path: string; message: string}

/** Validates a runbook document; problems name the step (by position and type) and what is allowed. */
export function parseRunbook(doc: unknown): {ok: true; runbook: Runbook} | {ok: false; problems: RunbookProblem[]} {
  const top = runbookSchema.safeParse(doc)
  if (!top.success) return {ok: false, problems: top.error.issues.map((i) => ({path: i.path.join('.') || '(runbook)', message: i.message}))}
  const problems: RunbookProblem[] = []
  const steps: RunbookStep[] = []
  const used = new Map<string, number>()
  top.data.steps.forEach((entry, index) => {
    const where = `steps.${index}`
    const rawType = typeof entry === 'string' ? entry : Object.keys(entry).find((k) => k !== 'id')!
    const rawOptions = typeof entry === 'string' ? {} : (entry[rawType] ?? {})
    if (!STEP_TYPES.includes(rawType as StepType)) {
      problems.push({path: where, message: `unknown step type "${rawType}"; allowed: ${STEP_TYPES.join(', ')}`})
      return
    }
    const type = rawType as StepType
    const parsed = STEP_OPTIONS[type].safeParse(rawOptions)
    if (!parsed.success) {
      for (const i of parsed.error.issues) problems.push({path: `${where} (${type})${i.path.length ? '.' + i.path.join('.') : ''}`, message: i.message})
      return
    }
    const n = (used.get(type) ?? 0) + 1
    used.set(type, n)
    const id = typeof entry === 'object' && typeof entry.id === 'string' ? entry.id : n === 1 ? type : `${type}-${n}`
    if (steps.some((s) => s.id === id)) problems.push({path: where, message: `duplicate step id "${id}"`})
    steps.push({id, type, options: parsed.data as Record<string, unknown>})
  })
  if (problems.length > 0) return {ok: false, problems}
  const digest = createHash('sha256').update(JSON.stringify({name: top.data.name, steps})).digest('hex').slice(0, 16)
  return {ok: true, runbook: {name: top.data.name, steps, digest}}
}

/** Where a run starts: after the last completed step of an unfinished run, at --from, or at the top. */
export function startIndex(runbook: Runbook, completed: Set<string>, from?: string): {index: number} | {error: string} {
  if (from !== undefined) {
    const index = runbook.steps.findIndex((s) => s.id === from)
    return index >= 0 ? {index} : {error: `no step "${from}" in runbook ${runbook.name}; steps: ${runbook.steps.map((s) => s.id).join(', ')}`}
  }
  const index = runbook.steps.findIndex((s) => !completed.has(s.id))
  return {index: index < 0 ? runbook.steps.length : index}
}
