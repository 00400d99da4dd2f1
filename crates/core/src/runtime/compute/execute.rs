//! Running task bodies: a panic or a bad return becomes a task failure.

use crate::error::CoreError;
use crate::ids::ActorId;
use crate::registry::{ActorInstance, ArgBytes, Registry, Returned, TaskContext};
use crate::task::{TaskKind, TaskSpec};
use std::panic::{AssertUnwindSafe, catch_unwind};

pub(super) fn run_one(
    spec: &TaskSpec,
    args: Vec<ArgBytes>,
    registry: &Registry,
    ctx: &TaskContext,
    actor: &mut Option<(ActorId, Box<dyn ActorInstance>)>,
) -> Result<Returned, CoreError> {
    let task = spec.task;
    // User code runs inside this span: its own events nest under the task.
    let span = tracing::debug_span!("task.run", ?task, kind = ?spec.kind);
    let _entered = span.enter();
    let outcome = catch_unwind(AssertUnwindSafe(|| match &spec.kind {
        TaskKind::Function(name) => registry.lookup(name)?(ctx, args),
        TaskKind::CreateActor { actor: id, class } => {
            let instance = registry.actor(class)?(ctx, args)?;
            *actor = Some((*id, instance));
            Returned::one(())
        }
        TaskKind::Method { method, .. } => match actor.as_mut() {
            Some((_, instance)) => instance.call(ctx, method, args),
            None => Err(CoreError::Invalid("a method without its actor".into())),
        },
    }))
    .unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the task panicked".to_string());
        Err(CoreError::TaskFailed { task, message })
    });
    match outcome {
        Ok(returned) if returned.values.len() != spec.num_returns as usize => {
            Err(CoreError::TaskFailed {
                task,
                message: format!(
                    "returned {} values, {} expected",
                    returned.values.len(),
                    spec.num_returns
                ),
            })
        }
        Ok(returned) => {
            // A ref returned from a handle of another worker of this process (smuggled
            // in through a static) is not in the executor's table: refuse it clearly.
            for value in &returned.values {
                value.check_holder(ctx.worker.id())?;
            }
            Ok(returned)
        }
        other => other,
    }
}
