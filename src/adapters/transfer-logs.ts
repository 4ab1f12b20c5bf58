import {CloudWatchLogsClient, FilterLogEventsCommand} from '@aws-sdk/client-cloudwatch-logs'

import type {AwsTarget} from './aws.js'
import {awsClientConfig} from './aws-s3.js'

/** The Transfer server's CloudWatch log group, read from a time on (FilterLogEvents, every stream). */
export class TransferLogs {
  private readonly client: CloudWatchLogsClient

  constructor(target: AwsTarget) {
    this.client = new CloudWatchLogsClient(awsClientConfig(target))
  }

  async *events(logGroupName: string, since: Date): AsyncIterable<{message: string; at: Date; stream?: string}> {
    let nextToken: string | undefined
    do {
      const page = await this.client.send(new FilterLogEventsCommand({logGroupName, startTime: since.getTime(), nextToken}))
      for (const e of page.events ?? []) if (e.message) yield {message: e.message, at: new Date(e.timestamp ?? 0), stream: e.logStreamName}
      nextToken = page.nextToken
    } while (nextToken)
  }

  destroy(): void {
    this.client.destroy()
  }
}
