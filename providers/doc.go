// Package providers defines what a kind of compute or environment offers
// to trainrun: the HCL schema of its block, and the interfaces the runtime
// drives (Compute). Each kind lives in a package of its own below this one
// (providers/local, …) and is listed in a Registry that the command wires up.
//
// Nothing here imports lang, planner or runtime: the arrows point inward.
package providers
