"""Would each Lambda handler import on Lambda? Static import resolution over the deployed code.

The embedded AWS runs handlers from the working tree, with this machine's Python and
site-packages, so a handler importing something its function asset and layers do not contain
(a module the runtime layer leaves out, a dev-only package, a dependency missing from
``pyproject.toml``, an extension built for another Python) works here and fails on Lambda with
``Runtime.ImportModuleError``. This package finds those failures from the synthesized
assembly alone, without running anything and without the function's Python
(:func:`edx_vault.devtools.embedded_aws.deploy.asset_imports.check.import_problems`).

For every ``AWS::Lambda::Function`` of a template with a Python runtime (``python3.N``), the
search path is the one Lambda's Python runtime builds:

1. the function's code root, ``/var/task`` (its asset);
2. ``/opt/python/lib/python3.N/site-packages`` and then ``/opt/python``: the function's layers
   are extracted into ``/opt`` in order, a later layer's file replacing an earlier one's;
3. the runtime's standard library for ``3.N`` (``module_finder.stdlib_modules``: this interpreter's
   ``sys.stdlib_module_names`` adjusted for the modules added or removed between its version and
   ``3.N``, without the Windows-only ones), then the packages the runtime itself provides
   (``module_finder.RUNTIME_PACKAGES``: the runtime interface client and the AWS SDK with its
   dependencies; a layer's copy comes first and wins).

Modules are found as CPython's path finder finds them: a package directory with an
``__init__``, else a module file (an extension module's suffix for ``3.N`` and the function's
architecture, ``.py``, ``.pyc``), else a namespace package made of every directory of that
name. The handler's module (``Handler`` ``plan.handler`` -> ``plan``) must be found
(``Runtime.ImportModuleError``) and bind the handler's name (``Runtime.HandlerNotFound``); it is
parsed with :mod:`ast` and its imports are followed transitively. A followed file that does not
parse is ``Runtime.UserCodeSyntaxError`` (judged only when this interpreter is at least ``3.N``:
newer syntax is no proof of an error).

Followed (each import resolved, each imported module parsed and its own imports followed):

- every module of the function's code root or of its layers that no installed distribution
  owns (no ``*.dist-info/RECORD`` next to it lists it), and every module of
  ``module_finder.PROJECT_PACKAGES`` (``edx_vault``, ``lambdas``) wherever it is;
- ``import a.b.c`` (``a``, ``a.b`` and ``a.b.c`` each), ``from a import b`` (``b`` is a submodule
  when one exists; otherwise, for a followed module, a name the module must bind at top level,
  or ``ImportError: cannot import name``), relative imports (resolved against the importing
  module's package; beyond the top-level package is an error, as in a top-level handler module),
  ``importlib.import_module("literal")`` and ``__import__("literal")``;
- imports anywhere in a file: module level, inside functions, classes, ``with`` and loops.

Not followed, or not required:

- ``if TYPE_CHECKING:`` bodies (and the ``else`` of ``if not TYPE_CHECKING:``), ``if __name__ ==
  "__main__":`` bodies, and the branch of an ``if sys.version_info ...`` test that is false for
  ``3.N``;
- imports in the body of a ``try`` whose handlers catch ``ImportError`` (or
  ``ModuleNotFoundError``, ``Exception``, ``BaseException``, a bare ``except``): optional. The
  imports of such a handler are required only when an import of its ``try`` is missing;
- inside third-party packages (owned by a distribution: boto3, botocore, powertools, pydantic...)
  nothing is parsed: an import naming one is checked down to the module it names (the top-level
  package, ``a.b`` for ``import a.b``), not what that package imports in turn. A missing
  submodule of a package whose ``__init__`` mentions ``sys.modules`` (``six.moves``) is assumed
  to be made at run time, and the standard library's and the runtime's packages' submodules
  are not checked;
- names imported from third-party or standard modules (``from boto3 import Session``), and
  dynamic imports of computed names.

Compiled extension modules (``*.so``) anywhere in the code root and the layers' Python
directories must load in CPython 3.N on the function's architecture: their filename tag is
``cpython-3N-<arch>-linux-gnu``, ``abi3`` or none (a ``cpython-311`` or ``darwin`` tag is a
problem), and an ELF file's machine is the function's (x86_64 or aarch64).

A function whose code or one of whose layers cannot be found in the assembly (a layer ARN from
elsewhere, a template checked without its assets) gets no import verdict, since what it imports
may be there; nor does one whose code and layers hold no Python file at all (a placeholder asset,
as in tests of code sizes). Its extensions are still checked.

The modules: ``check`` (the entry: a template's or one function's problems), ``lambda_files``
(the assets as ``/var/task`` and ``/opt``), ``import_statements`` (what a file imports and binds),
``module_finder`` (CPython's path finder on those files), ``import_graph`` (the walk from the
handler), ``extension_modules`` (compiled extensions). They read the assembly's assets through
:mod:`edx_vault.devtools.embedded_aws.deploy.assets` and import nothing else of the project, and
neither moto nor the CDK.
"""
