import type { PayloadConverter } from '@temporalio/common';

export declare const UNDECODABLE_KEY = '$shepherdUndecodablePayload';
export declare const payloadConverter: PayloadConverter;
