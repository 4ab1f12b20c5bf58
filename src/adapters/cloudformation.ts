import {type CloudFormationClient, DescribeStacksCommand} from '@aws-sdk/client-cloudformation'

import {CliError, ExitCode} from '../core/errors.js'

/** The outputs of a deployed stack, by output key. */
export async function stackOutputs(cf: CloudFormationClient, stackName: string): Promise<Record<string, string>> {
  try {
    const {Stacks} = await cf.send(new DescribeStacksCommand({StackName: stackName}))
    const stack = Stacks?.[0]
    const out: Record<string, string> = {}
    for (const o of stack?.Outputs ?? []) if (o.OutputKey && o.OutputValue !== undefined) out[o.OutputKey] = o.OutputValue
    return out
  } catch (err) {
    if ((err as {name?: string}).name === 'ValidationError') {
      throw new CliError(`stack ${stackName} does not exist`, {exitCode: ExitCode.usage, code: 'NO_STACK', suggestions: ['Check the stack name and its region, --target-region (aws cloudformation list-stacks lists the stacks of a region).']})
    }
    throw err
  }
}
