// ESLint rule: no module-level mutable state in code a search reaches (src/mm, src/explore,
// src/scenarios). The explorer re-runs a system many times in one process and relies on each run
// depending only on its decisions; a module-level counter or cache that outlives one run breaks
// that silently (issue 12: rw-semaphores numbered by a module-level counter hid every race on
// them). Flags module-scope `let`/`var`, and module-scope `const` bound to a fresh mutable
// container (array or object literal, new Map/Set/WeakMap/WeakSet/Array) unless it is frozen,
// `as const`, or typed Readonly/readonly. A deliberate exception says why in an
// eslint-disable comment.
const MUTABLE_CTORS = new Set(['Map', 'Set', 'WeakMap', 'WeakSet', 'Array']);

function isReadonlyType(node) {
  const t = node.id.typeAnnotation?.typeAnnotation;
  if (!t) return false;
  if (t.type === 'TSTypeOperator' && t.operator === 'readonly') return true;
  if (t.type === 'TSTypeReference' && t.typeName.type === 'Identifier' && /^Readonly/.test(t.typeName.name)) return true;
  return false;
}

function mutableInit(init) {
  if (!init) return false;
  if (init.type === 'TSAsExpression' || init.type === 'TSSatisfiesExpression') {
    if (init.typeAnnotation.type === 'TSTypeReference' && init.typeAnnotation.typeName.name === 'const') return false;
    return mutableInit(init.expression);
  }
  if (init.type === 'CallExpression' && init.callee.type === 'MemberExpression' && init.callee.object.name === 'Object' && init.callee.property.name === 'freeze') return false;
  if (init.type === 'ArrayExpression' || init.type === 'ObjectExpression') return true;
  if (init.type === 'NewExpression' && init.callee.type === 'Identifier' && MUTABLE_CTORS.has(init.callee.name)) return true;
  return false;
}

export default {
  meta: {
    type: 'problem',
    docs: { description: 'no module-level mutable state where the explorer re-runs code' },
    schema: [],
    messages: {
      letVar: "module-level `{{kind}}` {{name}}: state that outlives one execution of a search; keep it in the kernel or system instance",
      container: 'module-level mutable {{what}} {{name}}: state that outlives one execution of a search; freeze it, type it readonly, or keep it in the kernel or system instance',
    },
  },
  create(context) {
    return {
      'Program > VariableDeclaration, Program > ExportNamedDeclaration > VariableDeclaration'(node) {
        for (const d of node.declarations) {
          const name = d.id.type === 'Identifier' ? d.id.name : '(pattern)';
          if (node.kind !== 'const') {
            context.report({ node: d, messageId: 'letVar', data: { kind: node.kind, name } });
          } else if (mutableInit(d.init) && !isReadonlyType(d)) {
            const what = d.init.type === 'NewExpression' ? d.init.callee.name : d.init.type === 'ArrayExpression' ? 'array' : 'object';
            context.report({ node: d, messageId: 'container', data: { what, name } });
          }
        }
      },
    };
  },
};
