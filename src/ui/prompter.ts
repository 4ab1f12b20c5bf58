import {confirm, input, password, select} from '@inquirer/prompts'

/** The questions commands may ask. Commands get one only when prompting is allowed, so tests can script it. */
export interface Prompter {
  input(opts: {message: string; default?: string; validate?: (value: string) => true | string}): Promise<string>
  secret(opts: {message: string}): Promise<string>
  confirm(opts: {message: string; default?: boolean}): Promise<boolean>
  select<T extends string>(opts: {message: string; choices: Array<{name: string; value: T; description?: string}>; default?: T}): Promise<T>
}

/** Prompts on the terminal with @inquirer/prompts; they draw on stderr so that stdout stays clean for results. */
export function terminalPrompter(): Prompter {
  const context = {output: process.stderr}
  return {
    input: (opts) => input(opts, context),
    secret: (opts) => password({message: opts.message, mask: true}, context),
    confirm: (opts) => confirm(opts, context),
    select: (opts) => select(opts, context),
  }
}
