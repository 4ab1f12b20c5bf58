/** One entry of a checkbox question; a `disabled` entry is shown (with the reason, when a string) but cannot be picked. */
export interface CheckboxChoice<T extends string> {
  name: string
  value: T
  checked?: boolean
  description?: string
  disabled?: boolean | string
}

/** The questions commands may ask. Commands get one only when prompting is allowed, so tests can script it. */
export interface Prompter {
  input(opts: {message: string; default?: string; validate?: (value: string) => true | string}): Promise<string>
  secret(opts: {message: string}): Promise<string>
  confirm(opts: {message: string; default?: boolean}): Promise<boolean>
  select<T extends string>(opts: {message: string; choices: Array<{name: string; value: T; description?: string}>; default?: T}): Promise<T>
  /**
   * Several answers out of a list. Optional so that prompters written before it still fit; callers that need it
   * fall back to one confirm per choice when it is absent.
   */
  checkbox?<T extends string>(opts: {message: string; choices: Array<CheckboxChoice<T>>; required?: boolean}): Promise<T[]>
}

/**
 * Prompts on the terminal with @inquirer/prompts; they draw on stderr so that stdout stays clean for results.
 * Loaded on first use: most runs never prompt, and the import costs ~70 ms of every start.
 */
export function terminalPrompter(): Prompter {
  const context = {output: process.stderr}
  const prompts = () => import('@inquirer/prompts')
  return {
    input: async (opts) => (await prompts()).input(opts, context),
    secret: async (opts) => (await prompts()).password({message: opts.message, mask: true}, context),
    confirm: async (opts) => (await prompts()).confirm(opts, context),
    select: async (opts) => (await prompts()).select(opts, context),
    checkbox: async <T extends string>(opts: {message: string; choices: Array<CheckboxChoice<T>>; required?: boolean}) =>
      (await prompts()).checkbox<T>({message: opts.message, choices: opts.choices, required: opts.required, pageSize: 15}, context),
  }
}
