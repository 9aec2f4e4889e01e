// The bench's trivial replicate, in-process form: the orchestration is what is measured.
export function simulate(params, { seed }) {
  return { value: (seed % 1000) / 1000, scale: params.scale };
}
