"""Links to a CodeBuild run, built inside the run, for the approval to point at."""

from __future__ import annotations


def export_build_url(variable: str) -> str:
    """A buildspec command exporting `variable` = the console page of this very build (its Reports tab).

    Built in the build from CODEBUILD_BUILD_ARN (arn:aws:codebuild:<region>:<account>:build/<project>:<id>),
    so an exported variable can carry it to a later action such as the approval before prod.
    """
    return (
        'region="$(echo "$CODEBUILD_BUILD_ARN" | cut -d: -f4)"; '
        'account="$(echo "$CODEBUILD_BUILD_ARN" | cut -d: -f5)"; '
        f'export {variable}="https://${{region}}.console.aws.amazon.com/codesuite/codebuild/${{account}}/'
        'projects/${CODEBUILD_BUILD_ID%%:*}/build/${CODEBUILD_BUILD_ID/:/%3A}/reports?region=${region}"'
    )
