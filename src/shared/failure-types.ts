// The catalogue of ApplicationFailure types Shepherd throws: what a caller can match on, and
// the one place the non-retryable lists of the workflows' retry policies are built from, so a
// list cannot name a type nothing throws (or miss a renamed one).

export const FailureType = {
  // Input and definitions: wrong on every attempt.
  InvalidInput: 'InvalidInput',
  InvalidDefinition: 'InvalidDefinition',
  InvalidCommandSpec: 'InvalidCommandSpec',
  InvalidJob: 'InvalidJob',
  InvalidItem: 'InvalidItem',
  InvalidSourceQuery: 'InvalidSourceQuery',
  UnknownModel: 'UnknownModel',
  RoutingError: 'RoutingError',
  JobIdConflict: 'JobIdConflict',
  // Steps (programs run by the step machinery).
  CommandNotFound: 'CommandNotFound',
  CommandFailed: 'CommandFailed',
  StepFailed: 'StepFailed',
  StepTimedOut: 'StepTimedOut',
  /** Free space under SHEPHERD_DISK_FLOOR for the whole attempt: the step never started (retryable). */
  DiskFloor: 'DiskFloor',
  /** A step showed no sign of life (output, file growth, progress) for its progressTimeout; retryable. */
  StepStalled: 'StepStalled',
  InputMissing: 'InputMissing',
  OutputMissing: 'OutputMissing',
  OutputOutsideWorkspace: 'OutputOutsideWorkspace',
  /** A step's result file is missing. */
  ResultMissing: 'ResultMissing',
  /** A step's result file is not what the step promised (bad JSON, wrong shape). */
  ResultInvalid: 'ResultInvalid',
  ResultTooLarge: 'ResultTooLarge',
  /** The database refused a result row as data (SQL classes 22 and 23); not the step's result file. */
  InvalidResult: 'InvalidResult',
  // Simulation.
  ReplicateModuleInvalid: 'ReplicateModuleInvalid',
  ReplicatesMissing: 'ReplicatesMissing',
  EnvironmentChanged: 'EnvironmentChanged',
  EnvironmentProbeFailed: 'EnvironmentProbeFailed',
  EnvironmentRuntimeMissing: 'EnvironmentRuntimeMissing',
  EnvironmentSetupFailed: 'EnvironmentSetupFailed',
  ParameterFailed: 'ParameterFailed',
  SimulationJobFailed: 'SimulationJobFailed',
  SimulationJobTimedOut: 'SimulationJobTimedOut',
  // Training.
  ValidationMissing: 'ValidationMissing',
  DiskFloorReached: 'DiskFloorReached',
  // Experiments.
  ExperimentFailed: 'ExperimentFailed',
  // Conversations and models.
  InvalidModelOutput: 'InvalidModelOutput',
  InvalidScriptOutput: 'InvalidScriptOutput',
  NoDecision: 'NoDecision',
  MissingApiKey: 'MissingApiKey',
  ModelCallError: 'ModelCallError',
  ModelRequestRejected: 'ModelRequestRejected',
  ModelStalled: 'ModelStalled',
  /** A model call made in the run's own worker whose outcome never reached the run (the worker died, or its workflow task failed): a timed-out attempt, retried. */
  AttemptLost: 'AttemptLost',
  ModelStreamError: 'ModelStreamError',
  ModelStreamTruncated: 'ModelStreamTruncated',
  ModelUnavailable: 'ModelUnavailable',
  ModelUnreachable: 'ModelUnreachable',
  // Notifications.
  WebhookMisconfigured: 'WebhookMisconfigured',
  WebhookRejected: 'WebhookRejected',
  WebhookTimeout: 'WebhookTimeout',
  WebhookUnavailable: 'WebhookUnavailable',
  WebhookUnreachable: 'WebhookUnreachable',
  /** A newer attempt owns the training checkpoint directory; this one stops (retryable). */
  Superseded: 'Superseded',
  InternalError: 'InternalError',
  // Inputs and messages that could not be decoded or were refused.
  UndecodableInput: 'UndecodableInput',
  UpdateRefused: 'UpdateRefused',
  // Code analysis: containers and analyzers.
  InvalidAnalyzerInput: 'InvalidAnalyzerInput',
  AnalyzerToolMissing: 'AnalyzerToolMissing',
  InvalidContainerSpec: 'InvalidContainerSpec',
  ImageNotFound: 'ImageNotFound',
  ImageBuildFailed: 'ImageBuildFailed',
  ContainerRuntimeUnavailable: 'ContainerRuntimeUnavailable',
  PreflightFailed: 'PreflightFailed',
  AnalysisFailed: 'AnalysisFailed',
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];

const F = FailureType;

/** Failures no replicate of a simulation job can get past: the batch (and the sweep) fails at once. */
export const REPLICATE_FATAL: readonly FailureType[] = [F.CommandNotFound, F.InvalidCommandSpec, F.InputMissing, F.ReplicateModuleInvalid];

/** Non-retryable lists per activity call site, in the order the retry policies had them. */
export const NON_RETRYABLE = {
  experimentStep: [F.InvalidInput],
  trainingRecord: [F.InvalidInput, F.InvalidResult],
  trainingLocal: [F.InvalidInput],
  trainModel: [F.InvalidInput, F.CommandNotFound, F.ValidationMissing, F.ResultInvalid, F.ResultMissing],
  simulationRegistration: [F.JobIdConflict],
  simulationEnvironment: [F.InvalidInput, F.EnvironmentProbeFailed, F.EnvironmentRuntimeMissing],
  sweepAggregation: [F.ReplicatesMissing],
  replicateBatch: [...REPLICATE_FATAL, F.EnvironmentChanged, F.EnvironmentProbeFailed, F.InvalidInput],
} as const satisfies Record<string, readonly FailureType[]>;
