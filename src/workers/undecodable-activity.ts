import type { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInterceptors } from '@temporalio/worker';
import { FailureType } from '../shared/failure-types.js';
import { undecodableMessage } from '../shared/payloads/undecodable.js';

// The main worker's payload converter and (tolerant) encryption codec serve activities too: an
// argument they could not decode (an unknown encoding, a key removed while the activity was
// scheduled) arrives as an undecodable marker. Fail the attempt non-retryably, naming why, rather
// than run the activity with the marker as its input; another attempt would decode no better.
export function undecodableActivityInterceptor(ctx: Context): ActivityInterceptors {
  return {
    inbound: {
      async execute(input, next) {
        const message = undecodableMessage(input.args, `the input of activity ${ctx.info.activityType}`);
        if (message) throw ApplicationFailure.nonRetryable(message, FailureType.UndecodableInput);
        return next(input);
      },
    },
  };
}
