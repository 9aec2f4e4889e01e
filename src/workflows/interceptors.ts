import { ApplicationFailure, log, type WorkflowInboundCallsInterceptor, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { undecodableMessage } from '../shared/payloads/undecodable.js';

// Every workflow type: an argument the payload converter could not decode fails the workflow at
// once, non-retryably (not a workflow-task retry loop); an undecodable update is rejected, an
// undecodable signal is dropped with a warning (one bad sender must not end a long-lived queue).
// Update validators' refusals are non-retryable, whatever they threw.

class UndecodableInputInterceptor implements WorkflowInboundCallsInterceptor {
  async execute(...[input, next]: Parameters<NonNullable<WorkflowInboundCallsInterceptor['execute']>>): Promise<unknown> {
    const message = undecodableMessage(input.args, 'the workflow input');
    if (message) throw ApplicationFailure.nonRetryable(message, 'UndecodableInput');
    return next(input);
  }

  validateUpdate(...[input, next]: Parameters<NonNullable<WorkflowInboundCallsInterceptor['validateUpdate']>>): void {
    const message = undecodableMessage(input.args, `the input of update ${input.name}`);
    if (message) throw ApplicationFailure.nonRetryable(message, 'UndecodableInput');
    try {
      next(input);
    } catch (err) {
      // A validator's refusal is about the request, which sending again cannot change: never
      // let a plain Error surface as a retryable failure.
      if (err instanceof ApplicationFailure) throw err;
      throw ApplicationFailure.nonRetryable((err as Error).message ?? String(err), 'UpdateRefused');
    }
  }

  async handleSignal(...[input, next]: Parameters<NonNullable<WorkflowInboundCallsInterceptor['handleSignal']>>): Promise<void> {
    const message = undecodableMessage(input.args, `the input of signal ${input.signalName}`);
    if (message) {
      log.warn(`signal dropped: ${message}`);
      return;
    }
    return next(input);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ inbound: [new UndecodableInputInterceptor()] });
