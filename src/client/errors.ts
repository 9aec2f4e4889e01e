// Errors the shepherd/client package throws, as classes a caller can test with instanceof.

export class ShepherdError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The input failed validation; the message names the field(s). Nothing was started. */
export class InvalidInputError extends ShepherdError {}

/** A workflow with that ID is already running (one execution per batch/job/queue ID). */
export class AlreadyRunningError extends ShepherdError {
  constructor(
    message: string,
    readonly workflowId: string,
  ) {
    super(message);
  }
}

/** No workflow with that ID exists in the namespace. */
export class NotFoundError extends ShepherdError {
  constructor(readonly workflowId: string) {
    super(`no workflow ${workflowId} in this namespace`);
  }
}

/** The Temporal frontend could not be reached; the message names the address. */
export class ServerUnreachableError extends ShepherdError {
  constructor(
    readonly address: string,
    cause?: unknown,
  ) {
    super(`cannot reach the Temporal server at ${address}: ${(cause as Error)?.message ?? cause}`, { cause });
  }
}

/** The pipeline's workflow failed, was cancelled, timed out or was terminated; `status` says which. */
export class PipelineFailedError extends ShepherdError {
  constructor(
    message: string,
    readonly workflowId: string,
    readonly status: 'failed' | 'cancelled' | 'timed_out' | 'terminated',
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}
