/**
 * An SQS queue in moto, to read what moto's SNS and EventBridge deliver. Spoken over SQS's JSON protocol with
 * fetch (the project has no SQS client; moto does not check signatures).
 */
import {loadPeers} from '../peers/env.js'

async function sqs<T>(action: string, body: Record<string, unknown>): Promise<T> {
  const response = await fetch(loadPeers().moto.endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': `AmazonSQS.${action}`,
      Authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`SQS ${action} answered ${response.status}: ${text}`)
  return JSON.parse(text) as T
}

export interface MotoQueue {
  url: string
  arn: string
  /** Every message now in the queue (bodies), removed from it. */
  receiveAll(): Promise<string[]>
}

export async function motoQueue(name: string): Promise<MotoQueue> {
  const {QueueUrl: url} = await sqs<{QueueUrl: string}>('CreateQueue', {QueueName: name})
  const {Attributes} = await sqs<{Attributes: {QueueArn: string}}>('GetQueueAttributes', {QueueUrl: url, AttributeNames: ['QueueArn']})
  return {
    url,
    arn: Attributes.QueueArn,
    async receiveAll() {
      const bodies: string[] = []
      for (;;) {
        const {Messages = []} = await sqs<{Messages?: Array<{Body: string; ReceiptHandle: string}>}>('ReceiveMessage', {
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
        })
        if (Messages.length === 0) return bodies
        for (const message of Messages) {
          bodies.push(message.Body)
          await sqs('DeleteMessage', {QueueUrl: url, ReceiptHandle: message.ReceiptHandle})
        }
      }
    },
  }
}
